"""Adapters between devpi-server's objects and the pure license core."""
