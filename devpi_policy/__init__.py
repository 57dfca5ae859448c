"""devpi_policy: include/exclude rules for uploads and for everything an index serves."""
