"""Core's facets on a Postgres-backed table or view: ``_facet``, ``_facet_date``,
``_facet_array``, facets from the table's configuration, ``_facet_size``, suggestions and
the time limits, shaped as datasette/facets.py shapes them (the ``facet_results``,
``facets_timed_out``, ``suggested_facets`` and ``sorted_facet_results`` extras).

Core's own code reads the configuration and the facet size (``load_facet_configs``,
``Facet.get_facet_size``) and makes the toggle URLs; the SQL is dataplane/postgres/facets.py;
values are shown as the table page shows them (web/postgres/render.py).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from datasette.facets import ArrayFacet, ColumnFacet, DateFacet, Facet
from datasette.utils import path_with_added_args, path_with_removed_args, path_with_replaced_args
from datasette.utils.asgi import BadRequest, Request
from datasette.views.base import DatasetteError
from datasette.views.table_extras import SortedFacetResultsExtra

from ...dataplane.postgres import execute, tablequery
from ...dataplane.postgres import facets as sql
from ...dataplane.postgres.introspect import Column, Relation, catalog_fields
from ...dataplane.postgres.sqltext import qualified
from ...providers.postgres_storage import PostgresTarget
from ...service.core import service_for
from . import common, render

TYPES = {"column": ColumnFacet, "date": DateFacet, "array": ArrayFacet}  # core's order
ARGUMENT = {"column": "_facet", "date": "_facet_date", "array": "_facet_array"}


def public_request(request) -> Request:
    """The request as core's views see it: its path the public one, not the mount's."""
    path = common.public_path(request)
    return Request(dict(request.scope, path=path, raw_path=path.encode()), request.receive)


def check_allowed(datasette, request) -> None:
    """Core's refusal of ``_facet*`` arguments when the allow_facet setting is off."""
    if not datasette.setting("allow_facet") and any(k.startswith("_facet") for k in request.args):
        raise BadRequest("_facet= is not allowed")


async def for_table(datasette, request, resolved, query: tablequery.TableQuery) -> Facets:
    """The facets of the table page ``resolved`` (common.Resolved) shows with ``query``."""
    config = await datasette.table_config(resolved.database, resolved.name)
    return Facets(
        datasette, request, resolved.target, resolved.database, resolved.relation, query, config
    )


class Facets:
    """The facet extras of one table page, each computed once, on demand."""

    def __init__(
        self,
        datasette,
        request,
        target: PostgresTarget,
        database: str,
        relation: Relation,
        query: tablequery.TableQuery,
        table_config: dict[str, Any],
    ) -> None:
        self.datasette = datasette
        self.request = public_request(request)
        self.target = target
        self.database = database
        self.relation = relation
        self.query = query
        self.table_config = table_config or {}
        self.source = sql.Source(
            relation,
            qualified(target.schema, relation.name),
            query.where_sql,
            tablequery.tiebreakers(relation),
        )
        args = request.args
        self.nofacet = bool(args.get("_nofacet")) or args.get("_shape") in ("array", "object")
        self.nosuggest = bool(args.get("_nosuggest"))
        self._results: dict[str, Any] | None = None
        self._converters: dict[str, Any] = {}

    def _facet(self, kind: str) -> Facet:
        """Core's facet class for ``kind``: it reads the configuration and the facet size."""
        return TYPES[kind](
            self.datasette,
            self.request,
            self.database,
            table=self.relation.name,
            table_config=self.table_config,
        )

    def _configs(self, kind: str) -> list[dict[str, Any]]:
        """Core's facet configurations of ``kind``: {"source": ..., "config": {...}}."""
        try:
            return self._facet(kind).get_configs()
        except json.JSONDecodeError as error:
            raise BadRequest(f"Invalid JSON facet configuration: {error}") from None

    def _limit_ms(self, setting: str) -> int:
        return min(int(self.datasette.setting(setting)), execute.time_limit(self.datasette))

    async def _run(self, conn, statement: str, limit_ms: int, max_rows: int) -> list[tuple] | None:
        """The statement's rows; None if it ran out of time."""
        try:
            if self.query.raw_where:  # ?_where= SQL: as a user's query, read-only
                result, _ = await execute.run_user_sql(
                    self.target, statement, self.query.params, limit_ms, max_rows
                )
                return result.rows
            (result,) = await execute.read(conn, [(statement, self.query.params)], limit_ms)
            return result.rows
        except psycopg.Error as error:  # ?_where= SQL that breaks out of its WHERE
            if execute.is_connection_error(error):
                raise
            message = execute.message_of(error)
            raise DatasetteError(message, title="Invalid SQL", status=400) from None
        except DatasetteError as error:
            if error.title == "SQL Interrupted":
                return None
            raise

    def _column(self, name: str, kind: str) -> Column:
        """The facet's column; a 400 worded as SQLite words core's facet SQL on an unknown
        column (its array facet's SQL names the column ``inner.{name}``)."""
        column = self.relation.column(name)
        if column is None:
            qualified_name = f"inner.{name}" if kind == "array" else name
            message = f"no such column: {qualified_name}"
            raise DatasetteError(message, title="Invalid SQL", status=400)
        return column

    async def _converter(self, column: Column):
        by_relation = await catalog_fields(service_for(self.datasette), self.database)
        fields = by_relation.get(self.relation.name, common.NO_FIELDS)
        document = fields.document_order if column.name == "data" else ()
        return render.converter(
            column.type_oid,
            column.numeric_scale,
            fields.types.get(column.name),
            view=self.relation.is_view,
            document_order=document,
        )

    # facet_results ----------------------------------------------------------------------

    async def results(self) -> dict[str, Any]:
        """Core's ``facet_results``: {"results": {name: facet}, "timed_out": [names]}."""
        if self._results is not None:
            return self._results
        results: dict[str, Any] = {}
        timed_out: list[str] = []
        if not self.nofacet:
            todo = [(kind, c) for kind in TYPES for c in self._configs(kind)]
            if todo:
                async with execute.connection(self.target) as conn:
                    for kind, source_and_config in todo:
                        facet = await self._one(conn, kind, source_and_config)
                        if isinstance(facet, str):
                            timed_out.append(facet)
                            continue
                        key, i = facet["name"], 1
                        while key in results:
                            i += 1
                            key = f"{facet['name']}_{i}"
                        results[key] = facet
        self._results = {"results": results, "timed_out": timed_out}
        return self._results

    async def _one(self, conn, kind: str, source_and_config: dict) -> dict[str, Any] | str:
        """One facet as core shapes it, or its name if it ran out of time."""
        config = source_and_config["config"]
        name = config.get("column") or config.get("simple")
        if not isinstance(name, str):
            raise BadRequest(f"Invalid facet configuration: {json.dumps(config)}")
        column = self._column(name, kind)
        size = self._facet(kind).get_facet_size()
        build = {"column": sql.column_sql, "date": sql.date_sql, "array": sql.array_sql}[kind]
        statement = build(self.source, column, size + 1)
        rows = await self._run(conn, statement, self._limit_ms("facet_time_limit_ms"), size + 1)
        if rows is None:
            return name
        convert = day_text if kind == "date" else await self._converter(column)
        pairs = self._facet(kind).get_querystring_pairs()
        values = []
        for value, count in rows[:size]:
            if kind == "array":
                value = element_text(value, None if sql.is_json(column) else convert)
            elif value is not None and convert is not None:
                value = convert(value)
            values.append(self._value(kind, name, value, count, pairs))
        hideable = source_and_config["source"] != "metadata"
        removed = path_with_removed_args(self.request, {ARGUMENT[kind]: name})
        truncated = len(rows) > size
        if kind == "column":
            toggle_url = self.datasette.urls.path(removed)
            return {
                "name": name,
                "type": kind,
                "hideable": hideable,
                "toggle_url": toggle_url,
                "results": values,
                "truncated": truncated,
            }
        # core: the array facet's URL is prefixed with base_url, the date facet's is not
        toggle_url = self.datasette.urls.path(removed) if kind == "array" else removed
        return {
            "name": name,
            "type": kind,
            "results": values,
            "hideable": hideable,
            "toggle_url": toggle_url,
            "truncated": truncated,
        }

    def _value(self, kind: str, column: str, value: Any, count: int, pairs) -> dict[str, Any]:
        """One facet value with core's ``selected`` and ``toggle_url`` (datasette/facets.py)."""
        ds, request = self.datasette, self.request
        if kind == "column":
            column_qs = f"{column}__exact" if column.startswith("_") else column
            selected_args = {
                key: str(value)
                for key in (column_qs, f"{column}__exact")
                if (key, str(value)) in pairs
            }
            if selected_args:
                path = path_with_removed_args(request, selected_args)
            else:
                path = path_with_added_args(request, {column_qs: value})
            url = ds.absolute_url(request, ds.urls.path(path))
            selected = bool(selected_args)
        else:
            key = f"{column}__arraycontains" if kind == "array" else f"{column}__date"
            if kind == "array":
                selected = (key, value) in pairs
            else:
                selected = str(dict(pairs).get(key)) == str(value)
            if selected:
                path = path_with_removed_args(request, {key: str(value)})
            else:
                path = path_with_added_args(request, {key: value})
            url = ds.absolute_url(request, path)
        return {
            "value": value,
            "label": value,
            "count": count,
            "toggle_url": url,
            "selected": selected,
        }

    def extra_values(self) -> dict[str, Any]:
        """The table view's facet extras, by name."""
        return {
            "facet_results": self.results,
            "facets_timed_out": self.timed_out,
            "suggested_facets": self.suggested,
            "sorted_facet_results": self.sorted_results,
        }

    async def page_context(self) -> dict[str, Any]:
        """What core's table.html facet sections (``_suggested_facets.html``,
        ``_facet_results.html``) read."""
        public = self.request.path

        def replaced(request, args: dict[str, Any]) -> str:
            return self.datasette.urls.path(path_with_replaced_args(request, args, path=public))

        return {
            "suggested_facets": await self.suggested(),
            "facet_results": await self.results(),
            "facets_timed_out": await self.timed_out(),
            "sorted_facet_results": await self.sorted_results(),
            "path_with_replaced_args": replaced,
        }

    async def timed_out(self) -> list[str]:
        return (await self.results())["timed_out"]

    async def sorted_results(self) -> list[dict[str, Any]]:
        """Core's ``sorted_facet_results`` (its own code, on these results)."""
        context = _SortContext(self.table_config)
        return await SortedFacetResultsExtra().resolve(context, await self.results())

    # suggested_facets -------------------------------------------------------------------

    async def suggested(self) -> list[dict[str, Any]]:
        """Core's ``suggested_facets``: column facets, then date, then array facets."""
        ds, args = self.datasette, self.request.args
        if (
            not ds.setting("suggest_facets")
            or not ds.setting("allow_facet")
            or args.get("_next")
            or self.nofacet
            or self.nosuggest
        ):
            return []
        enabled = {kind: {c["config"].get("simple") for c in self._configs(kind)} for kind in TYPES}
        limit_ms = self._limit_ms("facet_suggest_time_limit_ms")
        size = self._facet("column").get_facet_size()
        try:
            found, arrays = await self._suggestions(enabled, limit_ms)
        except DatasetteError as error:
            if error.title != "Invalid SQL":  # ?_where= SQL that breaks out of its WHERE
                raise
            return []
        suggested = [
            self._suggestion(s.column.name, "_facet", None)
            for s in found
            if s.column.name not in enabled["column"]
            and 1 < s.distinct <= size
            and s.present > s.distinct
        ]
        suggested += [
            self._suggestion(s.column.name, "_facet_date", "date")
            for s in found
            if s.has_days and s.column.name not in enabled["date"]
        ]
        suggested += [self._suggestion(name, "_facet_array", "array") for name in arrays]
        return suggested

    async def _suggestions(
        self, enabled: dict[str, set], limit_ms: int
    ) -> tuple[list[sql.Suggestion], list[str]]:
        """What the first rows say of each column, and the columns of arrays of strings."""
        columns = list(self.relation.columns)
        async with execute.connection(self.target) as conn:
            rows = await self._run(conn, sql.suggest_sql(self.source, columns), limit_ms, 1)
            if not rows:
                return [], []
            found = sql.suggestions(columns, rows[0])
            arrays = []
            for s in found:
                if s.all_arrays and s.present and s.column.name not in enabled["array"]:
                    check = await self._run(
                        conn, sql.strings_sql(self.source, s.column), limit_ms, 1
                    )
                    if check and check[0][0]:
                        arrays.append(s.column.name)
        return found, arrays

    def _suggestion(self, name: str, argument: str, kind: str | None) -> dict[str, Any]:
        url = self.datasette.absolute_url(
            self.request,
            self.datasette.urls.path(path_with_added_args(self.request, {argument: name})),
        )
        if kind is None:
            return {"name": name, "toggle_url": url}
        return {"name": name, "type": kind, "toggle_url": url}


class _SortContext:
    """What SortedFacetResultsExtra reads from core's table context."""

    def __init__(self, table_metadata: dict[str, Any]) -> None:
        self.table_metadata = table_metadata


def element_text(value: Any, convert) -> str:
    """An array facet value as core shows it: ``str()`` of what SQLite's ``json_each``
    gives (a JSON string as itself, true/false as 1/0, an array or object as compact JSON);
    a column that is not JSON is its own element, as the page shows it."""
    if convert is not None:
        value = convert(value)
    elif isinstance(value, bool):
        value = int(value)
    elif isinstance(value, dict | list):
        value = render.json_text(value, compact=True)
    return str(value)


def day_text(value: Any) -> str:
    """A date facet's value: a day, or (from text) already the text SQLite's date() gives."""
    return value if isinstance(value, str) else render.time_text(value)
