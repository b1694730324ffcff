"""URLs of a managed database's pages, for databases Datasette itself may not know."""

from __future__ import annotations

from datasette.utils import PrefixedUrlString, path_with_format, tilde_encode


class Urls:
    """``datasette.urls`` for databases Datasette itself does not know (its builder looks
    the database up): the same paths, tilde-encoded, under base_url."""

    def __init__(self, datasette):
        self.datasette = datasette

    def database(self, database: str, format: str | None = None) -> str:
        return self.datasette.urls.path(tilde_encode(database), format=format)

    def table(self, database: str, table: str, format: str | None = None) -> str:
        path = f"{self.database(database)}/{tilde_encode(table)}"
        return PrefixedUrlString(path_with_format(path=path, format=format) if format else path)

    def row(self, database: str, table: str, row_path: str, format: str | None = None) -> str:
        path = f"{self.table(database, table)}/{row_path}"
        return PrefixedUrlString(path_with_format(path=path, format=format) if format else path)

    def query(self, database: str) -> str:
        return PrefixedUrlString(f"{self.database(database)}/-/query")
