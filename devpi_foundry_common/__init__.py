"""Pure helpers shared by the devpi-foundry plugins.

Imports only the standard library and ``packaging``, and none of the plugins, so each
plugin can use it and still load alone.
"""
