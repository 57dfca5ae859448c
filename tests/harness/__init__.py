"""Test harness of devpi-foundry: real devpi-server processes, real clients, real dists."""
