"""Benchmarks of the brain's stages (`npc-bridge bench asr`, ...)."""
