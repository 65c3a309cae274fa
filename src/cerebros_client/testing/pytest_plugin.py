"""Pytest fixtures that start the stand-in coordinator on loopback."""
