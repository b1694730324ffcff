"""The data plane's read routes, under the mount (see mount.py): database, query, table and
row pages, each as HTML or ``.json``, with core's URL patterns."""

from __future__ import annotations

from .database import database_view
from .mount import PG_MOUNT
from .query import query_view
from .row import row_view
from .table import table_view

BASE = "^" + PG_MOUNT + r"/(?P<database>[^/.]+)"
TABLE = r"/(?P<table>(?!-(?:[/.]|$))[^/.]+)"  # "-" starts Datasette's /db/-/ functions
FORMAT = r"(?:\.(?P<format>\w+))?"

ROUTES = [
    (BASE + r"/-/query" + FORMAT + "$", query_view),
    (BASE + FORMAT + "/?$", database_view),
    (BASE + TABLE + FORMAT + "$", table_view),
    (BASE + TABLE + r"/(?P<pks>[^/]+?)" + FORMAT + "$", row_view),
]
