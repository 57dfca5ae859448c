"""Programs that run inside a build's isolation boundary (sandbox, container, remote host)."""
