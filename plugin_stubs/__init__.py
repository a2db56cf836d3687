"""The engine side: a Python reference client that behaves like the engine plugin."""
