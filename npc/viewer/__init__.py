"""The face viewer: a loopback web page that plays NPC replies with a drawn face, and the
HTML report of a scene."""
