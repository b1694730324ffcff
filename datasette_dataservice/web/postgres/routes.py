"""The data plane's read routes, under the mount (see mount.py): database, query, table,
canned query and row pages, each as HTML or ``.json``, and a table's ``/-/count``,
``/-/fragment`` and ``/-/autocomplete`` (table_endpoints.py), with core's URL patterns."""

from __future__ import annotations

from .canned import table_or_query_view
from .database import database_view
from .mount import PG_MOUNT
from .parameters import parameters_view
from .query import query_view
from .query_list import definition_view, queries_view, storing_elsewhere
from .row import row_view
from .table_endpoints import autocomplete_view, count_view, fragment_view

BASE = "^" + PG_MOUNT + r"/(?P<database>[^/.]+)"
TABLE = r"/(?P<table>(?!-(?:[/.]|$))[^/.]+)"  # "-" starts Datasette's /db/-/ functions
FORMAT = r"(?:\.(?P<format>\w+))?"

ROUTES = [
    (BASE + r"/-/query/parameters$", parameters_view),
    (BASE + r"/-/query" + FORMAT + "$", query_view),
    (BASE + FORMAT + "/?$", database_view),
    (BASE + r"/-/queries(?:\.(?P<format>json))?$", queries_view),
    (BASE + r"/(?P<query>[^/.]+)/-/definition$", definition_view),
    (BASE + r"/-/queries/(?:store|analyze)$", storing_elsewhere),
    (BASE + r"/(?P<query>[^/.]+)/-/(?:edit|update|delete)$", storing_elsewhere),
    (BASE + TABLE + FORMAT + "$", table_or_query_view),  # a table, else a canned query
    (BASE + TABLE + r"/(?P<pks>[^/]+?)" + FORMAT + "$", row_view),
    (BASE + TABLE + r"/-/count$", count_view),
    (BASE + TABLE + r"/-/fragment$", fragment_view),
    (BASE + TABLE + r"/-/autocomplete$", autocomplete_view),
]
