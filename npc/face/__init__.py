"""Facial animation: ARKit blendshape frames on the NPC audio timeline."""
