"""The C++ client's sources (CMake) and, in Python, its bench against the reference client."""
