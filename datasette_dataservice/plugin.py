"""Datasette hooks. Each one is thin and hands over to the module that does the work."""

from __future__ import annotations

from datasette import hookimpl
from datasette.plugins import pm

from . import hookspecs, permissions
from .cli import dataservice as dataservice_cli
from .config import PLUGIN_NAME, DataServiceConfig
from .providers.postgres_tables import PostgresFlatTable, PostgresJsonb
from .providers.sqlite import SQLiteFlatTable, SQLiteJsonb
from .service.core import is_managed_database, managed_databases_of
from .service.lifecycle import start_with_datasette
from .service.request_cache import asgi_request_scope
from .tenancy import middleware as tenant_middleware
from .web import actions, exceptions, owned_databases, through_filter
from .web.core_filters import managed_filter_params
from .web.json_output import RENDERER as JSON_RENDERER
from .web.postgres import listings as postgres_listings
from .web.postgres.mount import mount as mount_postgres
from .web.ratelimit import install_rate_limiter
from .web.routes import route_table
from .web.tsv import RENDERER as TSV_RENDERER

pm.add_hookspecs(hookspecs)


@hookimpl
def startup(datasette):
    async def start_data_service():
        raw = datasette.plugin_config(PLUGIN_NAME)
        config = DataServiceConfig.from_plugin_config(raw)
        install_rate_limiter(datasette, config.rate_limits)
        await start_with_datasette(datasette, config, configured=raw is not None)

    return start_data_service


@hookimpl
def prepare_connection(conn, database, datasette):
    if is_managed_database(datasette, database):
        conn.execute("PRAGMA foreign_keys = ON")  # Table Schema foreignKeys are enforced


@hookimpl
def filters_from_request(request, database, table, datasette):
    return managed_filter_params(datasette, request, database, table)


@hookimpl
def register_dataservice_providers(datasette):
    return [SQLiteFlatTable, SQLiteJsonb, PostgresFlatTable, PostgresJsonb]


@hookimpl
def asgi_wrapper(datasette):
    config = DataServiceConfig.from_plugin_config(datasette.plugin_config(PLUGIN_NAME))

    def wrap(app):
        app = asgi_request_scope(app)  # catalog reads are remembered for one request
        if config.postgres:  # Postgres-backed databases answer at Datasette's own URLs
            app = postgres_listings.keep_listed(datasette, app)  # ...and are listed there
            app = mount_postgres(datasette, app)
        if config.tenancy.mode != "off":
            app = tenant_middleware(datasette, app, config.tenancy, managed_databases_of(datasette))
        return app

    return wrap


@hookimpl(wrapper=True, specname="filters_from_request")
def through_filter_on_managed_tables(request, database, table, datasette):
    """Core's ``_through`` filter without its 500s and its clashing parameter name."""
    results = yield
    return through_filter.replace_core_through(results, datasette, request, database, table)


@hookimpl(wrapper=True)
def handle_exception(datasette, request, exception):
    """Error responses in milliseconds: Datasette's default handler prints a rich traceback."""
    results = yield
    return exceptions.replace_default(results, datasette, request, exception)


@hookimpl
def register_actions(datasette):
    return permissions.ACTIONS


@hookimpl
def permission_resources_sql(datasette, actor, action):
    return permissions.permission_rules(datasette, actor, action)


@hookimpl
def register_output_renderer(datasette):
    return [TSV_RENDERER, JSON_RENDERER]


@hookimpl
def register_routes(datasette):
    return [*postgres_listings.routes(datasette), *route_table()]


@hookimpl
def forbidden(datasette, request, message):
    return owned_databases.forbidden(datasette, request, message)


@hookimpl
def register_commands(cli):
    cli.add_command(dataservice_cli)


@hookimpl
def menu_links(datasette, actor, request):
    if actor is None:  # anonymous visitors see Datasette exactly as without the plugin
        return None

    async def links():
        if await datasette.allowed(action=permissions.CREATE_APP, actor=actor):
            return [{"href": datasette.urls.path("/-/apps"), "label": "Data service apps"}]
        return []

    return links


@hookimpl
def table_actions(datasette, actor, database, table, request):
    if actor is None:  # anonymous: no extra links, no permission checks
        return None

    async def links():
        return await actions.table_links(datasette, actor, database, table)

    return links


@hookimpl
def view_actions(datasette, actor, database, view, request):
    if actor is None:
        return None

    async def links():  # a jsonb datatable is served by its view
        return await actions.table_links(datasette, actor, database, view)

    return links


@hookimpl
def database_actions(datasette, actor, database, request):
    if actor is None:
        return None

    async def links():
        return await actions.database_links(datasette, actor, database)

    return links
