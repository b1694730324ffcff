"""Core's ``?_extra=`` blocks on the Postgres data plane.

Where a core extra reads nothing but its context (``request``, ``debug``, ``extras``,
``renderers``, ``custom_table_templates``, ``form_hidden_args``) or Datasette's internal
tables (``column_types``, ``set_column_type_ui``, ``column_details``), core's own Extra
class resolves it here, from a context of this page's values; ``column_details`` reads the
columns through ``PageDatasette``, which answers core's column lookup from PostgreSQL.
What needs SQL (definitions, incoming foreign keys) comes from dataplane/postgres, and the
``render_cell`` hook is called with the arguments core passes (cells.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from datasette.extras import ExtraScope
from datasette.resources import TableResource
from datasette.utils import Column
from datasette.views.table_extras import table_extra_registry

from ...dataplane.postgres import definitions, execute, introspect, references
from ...dataplane.postgres.introspect import Relation
from ...providers.postgres_storage import PostgresTarget
from ...providers.table_shape import DECLARED_TYPES
from ...service.core import service_for
from . import cells, common

# The column type the same datatable's column declares on SQLite (table_shape.DECLARED_TYPES), which
# core's column types are matched against; anything else is TEXT there.
SQLITE_TYPES = {
    introspect.INT2: "INTEGER",
    introspect.INT4: "INTEGER",
    introspect.INT8: "INTEGER",
    introspect.OID: "INTEGER",
    introspect.BOOL: "INTEGER",
    introspect.FLOAT4: "REAL",
    introspect.FLOAT8: "REAL",
    introspect.NUMERIC: "REAL",
    introspect.BYTEA: "BLOB",
}


async def field_types(datasette, database: str, relation: Relation) -> dict[str, str]:
    """The Table Schema type of each of the relation's datatable fields."""
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    return by_relation.get(relation.name, common.NO_FIELDS).types


VIEW_KEY = "_id"  # a jsonb view's one stored column, ``id AS _id`` (sqlite_ddl.py)


def has_rowid(relation: Relation) -> bool:
    """A flat_table without a primary key: its ``rowid`` stands in for SQLite's."""
    return relation.pks == ["rowid"]


def column_objects(relation: Relation, field_types: dict[str, str]) -> dict[str, Column]:
    """Core's ``Column`` tuples (``PRAGMA table_xinfo``) for a Postgres relation, typed as
    the same datatable's columns are on SQLite (by their Table Schema field's type, else by
    their PostgreSQL type); the stand-in ``rowid`` is hidden, as SQLite's is.

    A jsonb view's field is an expression on SQLite (``CAST(CASE ... END AS INTEGER)``,
    providers/sqlite_ddl.py), which SQLite reports untyped (``""``) and nullable; only its
    ``_id``, the stored table's column, keeps that column's type."""
    out = {}
    for cid, column in enumerate(c for c in relation.columns):
        if has_rowid(relation) and column.name == "rowid":
            continue
        if relation.is_view and column.name != VIEW_KEY:
            type_ = ""
        else:
            type_ = DECLARED_TYPES.get(field_types.get(column.name, "")) or SQLITE_TYPES.get(
                column.type_oid, "TEXT"
            )
        out[column.name] = Column(
            cid=cid,
            name=column.name,
            type=type_,
            notnull=0 if relation.is_view else int(column.notnull),
            default_value=None,
            is_pk=0 if relation.is_view else column.pk_position,
            hidden=0,
        )
    return out


class PageDatasette:
    """The Datasette, except that core's column lookup for this page's relation reads the
    PostgreSQL columns (Datasette only knows its own databases). Only core's Extra classes
    see it; plugin hooks get the real Datasette."""

    def __init__(self, datasette, database: str, relation: Relation | None):
        self._datasette = datasette
        self._database = database
        self._relation = relation

    def __getattr__(self, name: str) -> Any:
        return getattr(self._datasette, name)

    async def _get_resource_column_details(self, database: str, resource: str) -> dict:
        relation = self._relation
        if relation is not None and (database, resource) == (self._database, relation.name):
            types = await field_types(self._datasette, database, relation)
            return column_objects(relation, types)
        return await self._datasette._get_resource_column_details(database, resource)

    async def get_column_types(self, database: str, resource: str) -> dict:
        # core's method, on this object: it looks the columns up as above
        return await type(self._datasette).get_column_types(self, database, resource)


class Resolved:
    """What ``_extra=debug`` shows as core's ``ResolvedTable``."""

    def __init__(self, database: str, table: str, is_view: bool):
        self.database, self.table, self.is_view = database, table, is_view

    def __repr__(self) -> str:
        return (
            f"ResolvedTable(db=<Database: {self.database} (postgres)>, "
            f"table={self.table!r}, is_view={self.is_view})"
        )


@dataclass
class Page:
    """One table, row or query page: what its extras are computed from."""

    datasette: Any
    request: Any
    scope: ExtraScope
    database: str
    private: bool
    columns: list[str]
    rows: list[dict[str, Any]]
    sql: str | None
    params: dict[str, Any]
    extras: set[str]
    target: PostgresTarget | None = None
    relation: Relation | None = None
    pks: list[str] = field(default_factory=list)  # as core reports them ([] for a rowid)
    pk_values: list[str] = field(default_factory=list)
    query_name: str | None = None

    @property
    def table(self) -> str | None:
        return self.relation.name if self.relation is not None else None

    @property
    def is_view(self) -> bool:
        return self.relation is not None and self.relation.is_view

    def core_context(self) -> SimpleNamespace:
        """The attributes core's Extra classes read from their context."""
        args = self.request.args
        return SimpleNamespace(
            datasette=PageDatasette(self.datasette, self.database, self.relation),
            request=self.request,
            scope=self.scope,
            database_name=self.database,
            table_name=self.table,
            is_view=self.is_view,
            private=self.private,
            columns=self.columns,
            rows=[cells.PgRow(self.columns, r) for r in self.rows],
            pks=self.pks,
            pk_values=self.pk_values,
            sql=self.sql,
            params=self.params,
            query_name=self.query_name,
            extras=self.extras,
            extra_registry=table_extra_registry,
            resolved=Resolved(self.database, self.table or "", self.is_view),
            nofacet=args.get("_nofacet"),
            nosuggest=args.get("_nosuggest"),
        )


async def core_extra(page: Page, name: str, **dependencies) -> Any:
    """Core's own Extra ``name`` resolved on this page."""
    extra = table_extra_registry.classes_by_name[name]()
    return await extra.resolve(page.core_context(), **dependencies)


def by_core(page: Page, *names: str) -> dict[str, Callable[[], Any]]:
    return {name: (lambda name=name: core_extra(page, name)) for name in names}


async def column_types(page: Page) -> dict:
    assert page.table is not None
    return await PageDatasette(page.datasette, page.database, page.relation).get_column_types(
        page.database, page.table
    )


async def render_cell(page: Page) -> list[dict[str, str]]:
    """Core's ``render_cell`` extra: what each cell's ``render_cell`` hooks return."""
    types = await column_types(page) if page.table else {}
    rendered = await cells.rendered_cells(
        page.datasette,
        page.request,
        page.database,
        page.table,
        page.columns,
        page.rows,
        cells.display_pks(page.pks, page.table, page.is_view),
        types,
    )
    return [{k: str(v) for k, v in row.items() if v} for row in rendered]


async def display_columns(
    page: Page, sortable: set[str], link_column: bool = True
) -> list[dict[str, Any]]:
    """Core's ``display_columns`` (views/table.py ``display_columns_and_rows``); without
    the ``link_column`` as on core's row page, whose columns are not sortable."""
    assert page.relation is not None
    types_of = await field_types(page.datasette, page.database, page.relation)
    details = column_objects(page.relation, types_of)
    descriptions = (await common.table_metadata(page.datasette, page.database, page.table))[
        "columns"
    ]
    types = await column_types(page)
    pks = cells.display_pks(page.pks, page.table, page.is_view)
    columns = []
    for name in page.columns:
        detail = details.get(name)
        ct = types.get(name)
        columns.append(
            {
                "name": name,
                "sortable": name in sortable,
                "is_pk": name in pks,
                "type": detail.type if detail else "integer",
                "notnull": detail.notnull if detail else 0,
                "description": descriptions.get(name),
                "column_type": ct.name if ct else None,
                "column_type_config": ct.config if ct else None,
            }
        )
    if page.is_view or not link_column:
        return columns
    if len(page.pks) == 1:
        pk = page.pks[0]
        columns = [c for c in columns if c["name"] != pk]
        first = {
            "name": pk,
            "sortable": pk in sortable,
            "is_pk": True,
            "type": details[pk].type,
            "notnull": details[pk].notnull,
        }
    else:
        first = {
            "name": "Link",
            "sortable": False,
            "is_pk": False,
            "type": "",
            "notnull": 0,
            "is_special_link_column": True,
        }
    return [first, *columns]


async def table_definition(page: Page, view: bool) -> str | None:
    assert page.target is not None and page.table is not None
    read = definitions.view_definition if view else definitions.table_definition
    async with execute.connection(page.target) as conn:
        return await read(conn, page.target.schema, page.table, execute.time_limit(page.datasette))


async def foreign_key_tables(page: Page) -> list[dict[str, Any]]:
    """Core's ``foreign_key_tables``: the tables whose foreign keys point at this row."""
    assert page.target is not None and page.table is not None
    if len(page.pk_values) != 1:
        return []
    datasette, actor = page.datasette, page.request.actor
    async with execute.connection(page.target) as conn:
        relations = await introspect.relations(conn, page.target.schema)
        keys = await introspect.foreign_keys(conn, page.target.schema, list(relations))
        incoming = []
        for fk in keys.get(page.table, {}).get("incoming", []):
            resource = TableResource(database=page.database, table=fk["other_table"])
            if await datasette.allowed(action="view-table", resource=resource, actor=actor):
                incoming.append(fk)
        counts = await references.incoming_counts(
            conn, page.target.schema, incoming, page.pk_values[0], execute.time_limit(datasette)
        )
    if not counts:
        return []
    urls = common.Urls(datasette)
    out = []
    for fk, count in zip(incoming, counts, strict=True):
        key = fk["other_column"] + ("__exact" if fk["other_column"].startswith("_") else "")
        link = f"{urls.table(page.database, fk['other_table'])}?{key}={','.join(page.pk_values)}"
        out.append({**fk, "count": count or 0, "link": link})
    return out


def table_extras(
    page: Page, sortable: set[str], expandable: Callable[[], Any] | None = None
) -> dict[str, Callable[[], Any]]:
    """The table page's extras this module computes (the view computes the others)."""

    async def renderers():
        found = await expandable() if expandable is not None else []
        query = {"sql": page.sql, "params": page.params}
        return await core_extra(page, "renderers", expandable_columns=found, query=query)

    return {
        **by_core(
            page,
            "debug",
            "request",
            "extras",
            "custom_table_templates",
            "form_hidden_args",
            "column_details",
            "column_types",
            "set_column_type_ui",
        ),
        "renderers": renderers,
        "render_cell": lambda: render_cell(page),
        "display_columns": lambda: display_columns(page, sortable),
        "table_definition": lambda: table_definition(page, view=False),
        "view_definition": lambda: table_definition(page, view=True),
    }


def row_extras(page: Page) -> dict[str, Callable[[], Any]]:
    return {
        **by_core(page, "debug", "request", "extras", "column_details", "column_types"),
        "render_cell": lambda: render_cell(page),
        "foreign_key_tables": lambda: foreign_key_tables(page),
    }


def query_extras(page: Page) -> dict[str, Callable[[], Any]]:
    return {
        **by_core(page, "debug", "request", "extras"),
        "render_cell": lambda: render_cell(page),
    }
