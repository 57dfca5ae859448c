"""Pure policy logic: rule parsing and evaluation. Imports no devpi, pyramid or pluggy."""
