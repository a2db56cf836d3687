"""Voice activity detection backends."""
