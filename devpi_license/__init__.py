"""devpi_license: SPDX-normalised license data for every release, rules and closure reports."""
