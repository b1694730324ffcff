"""``?_through=`` on managed SQLite tables: core's filter (``datasette.filters.through_filters``)
with two faults taken out, so that it answers as on PostgreSQL.

- Bad input (JSON that does not parse, a missing key, a table with no foreign key to this
  one) is a 400 saying what to send, where core answers 500 (dataplane/through.py).
- Core names its parameter ``p0``, as the table's first column filter is named, so
  ``?name=Bob&_through=...`` bound the through value to both and found nothing. Here the
  parameter has a name of its own.

Core's implementation is swapped out of the hook's results (a hook wrapper, as for
``handle_exception``), only on managed databases and only when ``_through`` is asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from datasette.filters import FilterArguments
from datasette.resources import TableResource
from datasette.utils import escape_sqlite
from datasette.utils.asgi import BadRequest

from ..dataplane.through import referring_key, requested_throughs
from ..service.core import is_managed_database

CORE_THROUGH = "through_filters.<locals>.inner"


def replace_core_through(results: list[Any], datasette, request, database: str, table: str):
    if "_through" not in request.args or not is_managed_database(datasette, database):
        return results
    kept = [r for r in results if getattr(r, "__qualname__", None) != CORE_THROUGH]
    if len(kept) == len(results):
        return results
    return [*kept, through_filter(datasette, request, database, table)]


def through_filter(
    datasette, request, database: str, table: str
) -> Callable[[], Awaitable[FilterArguments]]:
    async def inner() -> FilterArguments:
        db = datasette.get_database(database)
        where, params, human = [], {}, []
        for i, through in enumerate(requested_throughs(request.args)):
            await datasette.ensure_permission(
                action="view-table",
                resource=TableResource(database=database, table=through.table),
                actor=request.actor,
            )
            key = referring_key(await db.foreign_keys_for_table(through.table), table)
            if through.column not in await db.table_columns(through.table):
                raise BadRequest(f"no such column: {through.column}")
            name = f"_through_{i}"
            where.append(
                f"{escape_sqlite(key['other_column'])} in (select {escape_sqlite(key['column'])}"
                f" from {escape_sqlite(through.table)}"
                f" where {escape_sqlite(through.column)} = :{name})"
            )
            params[name] = through.value
            human.append(through.human)
        return FilterArguments(where, params, human)

    return inner
