"""Adapters between devpi-server's objects and the pure buildfarm core."""
