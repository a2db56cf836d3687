"""The wire: NPC Bridge protocol messages, codec, ZeroMQ server and client sockets."""

PROTOCOL_VERSION = 1
