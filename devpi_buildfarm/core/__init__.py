"""Pure build-farm logic: targets, plans, job states. Imports no devpi, pyramid, docker or SQL."""
