"""The ``render_cell`` plugin hook on the Postgres data plane, called as core calls it:
a column type's ``render_cell`` first, then the plugins', with the row as a
``sqlite3.Row``-like object (by index or by name, iterating its values)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from datasette.plugins import pm
from datasette.utils import await_me_maybe


class PgRow:
    """A result row as core's hooks receive a ``sqlite3.Row``.

    >>> row = PgRow(["a", "b"], {"a": 1, "b": 2})
    >>> row["b"], row[0], list(row), row.keys(), len(row), dict(zip(row.keys(), row))
    (2, 1, [1, 2], ['a', 'b'], 2, {'a': 1, 'b': 2})
    """

    __slots__ = ("_columns", "_values")

    def __init__(self, columns: Sequence[str], row: dict[str, Any]):
        self._columns = list(columns)
        self._values = [row[c] for c in self._columns]

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._columns.index(key)]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._columns)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return (self._columns, self._values) == (other._columns, other._values)
        return NotImplemented

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._columns, self._values, strict=True))!r})"


def display_pks(pks: list[str], table: str | None, is_view: bool) -> list[str]:
    """The ``pks`` core passes to ``render_cell``: a table without one has its rowid."""
    if table is None:
        return []
    return pks or ([] if is_view else ["rowid"])


async def rendered_cells(
    datasette,
    request,
    database: str,
    table: str | None,
    columns: list[str],
    rows: list[dict[str, Any]],
    pks: list[str],
    column_types: dict,
    skip: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """For each row, the columns a column type or plugin rendered, with what it returned."""
    out = []
    for values in rows:
        row = PgRow(columns, values)
        rendered: dict[str, Any] = {}
        for column in columns:
            if column in skip:
                continue
            value = values[column]
            shown = None
            column_type = column_types.get(column)
            if column_type:
                shown = await column_type.render_cell(
                    value=value,
                    column=column,
                    table=table,
                    database=database,
                    datasette=datasette,
                    request=request,
                )
            if shown is None:
                for candidate in pm.hook.render_cell(
                    row=row,
                    value=value,
                    column=column,
                    table=table,
                    pks=pks,
                    database=database,
                    datasette=datasette,
                    request=request,
                    column_type=column_type,
                ):
                    candidate = await await_me_maybe(candidate)
                    if candidate is not None:
                        shown = candidate
                        break
            if shown is not None:
                rendered[column] = shown
        out.append(rendered)
    return out
