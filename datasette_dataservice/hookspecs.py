"""Hooks this plugin adds to Datasette's plugin manager, for other plugins to implement."""

from pluggy import HookspecMarker

hookspec = HookspecMarker("datasette")


@hookspec
def register_dataservice_providers(datasette):
    """Return a list of Provider subclasses (see datasette_dataservice.providers.base).

    Each class declares its ``provider_type`` (e.g. "mongodb") and ``engine`` (e.g. "sqlite");
    a datasource created with that provider_type and engine is served by it.
    """
