"""The catalog's functions, written for sqlite3, run unchanged on a psycopg connection.

``catalog.store`` and ``catalog.history`` take a connection and call ``execute`` with
``?`` or ``:name`` placeholders, as sqlite3 does. ``CatalogConnection`` gives a psycopg
connection that surface, so one set of catalog functions serves both engines and the service
layer never learns which one it talks to. psycopg has no sqlite3-compatible mode and no
library translates the two paramstyles, hence the small tokenizer below.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

import psycopg
from psycopg import errors

from ..errors import Conflict

# A quoted string or identifier (copied as is), a :name or ? placeholder, or a lone %.
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|(?<!:):([A-Za-z_]\w*)|\?|%""")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """sqlite3's placeholders as psycopg's: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``.

    >>> translate("SELECT * FROM t WHERE a = ? AND b = :b AND c LIKE '%?'")
    "SELECT * FROM t WHERE a = %s AND b = %(b)s AND c LIKE '%%?'"
    """

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token[0] in "'\"":
            return token.replace("%", "%%")
        if match.group(1):
            return f"%({match.group(1)})s"
        return "%s" if token == "?" else "%%"

    return _TOKENS.sub(replace, sql)


class CatalogCursor:
    """What the catalog functions use of a sqlite3 cursor."""

    def __init__(self, cursor: psycopg.Cursor):
        self._cursor = cursor

    @property
    def description(self) -> list[tuple] | None:
        if self._cursor.description is None:
            return None
        return [
            (column.name, None, None, None, None, None, None) for column in self._cursor.description
        ]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


class CatalogConnection:
    """A psycopg connection inside one transaction, called as a sqlite3 connection.

    A unique constraint the database refuses is a Conflict (409), as the checks that run
    before each insert would have said had another node not written first.
    """

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, sql: str, params: Sequence | dict | None = None) -> CatalogCursor:
        cursor = self._conn.cursor()
        try:
            if params is None or (not params and not isinstance(params, dict)):
                cursor.execute(sql)  # no parameters: psycopg sends the text as it is
            else:
                cursor.execute(translate(sql), params)
        except errors.UniqueViolation as error:
            raise Conflict(f"{error.diag.message_detail or error}: it was just created") from error
        return CatalogCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> CatalogCursor:
        cursor = self._conn.cursor()
        cursor.executemany(translate(sql), list(rows))
        return CatalogCursor(cursor)

    @property
    def raw(self) -> psycopg.Connection:
        """The psycopg connection, for what only Postgres has (advisory locks, NOTIFY)."""
        return self._conn
