"""Pure license logic: extraction from metadata, SPDX normalisation, verdicts."""
