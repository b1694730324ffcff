"""datasette-dataservice: a schema-first data service for Datasette.

The ``datasette`` entry point names this package (Datasette finds a plugin's ``templates/`` and
``static/`` beside the module it registers), so the hooks of ``plugin.py`` are exported here.
"""

__version__ = "0.1.0"  # before the hooks: modules they import read it

from .plugin import (  # noqa: E402, F401
    asgi_wrapper,
    database_actions,
    filters_from_request,
    forbidden,
    handle_exception,
    menu_links,
    permission_resources_sql,
    prepare_connection,
    register_actions,
    register_commands,
    register_dataservice_providers,
    register_output_renderer,
    register_routes,
    startup,
    table_actions,
    through_filter_on_managed_tables,
    view_actions,
)
