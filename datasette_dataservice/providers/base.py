"""The provider interface: how a datatable becomes a physical table and back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class TableSpec:
    """What a provider needs to know to materialize one datatable."""

    physical_name: str
    schema: dict[str, Any]
    # Maps a datatable name in the same datasource (a foreign key's reference.resource) to its
    # physical table name; "" means the table itself.
    resolve_reference: Callable[[str], str] = field(default=lambda name: name)
    # jsonb keeps documents as written: each field's earlier names, newest first, so renamed
    # fields still read their old documents' values.
    aliases: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fields(self) -> list[dict[str, Any]]:
        return self.schema["fields"]


#: Rows read between two looks at a scan's deadline
SCAN_BATCH = 2_000


@dataclass
class MigrationPlan:
    """How a provider will carry out a schema change, before anything runs."""

    operations: list[Any]  # schema.diff.Operation, each with its effect set
    sql: list[str]
    rebuild: bool = False
    # New field name -> old column (or document key) for every field that keeps its data.
    sources: dict[str, str] = field(default_factory=dict)
    # Fields whose stored values are re-cast to a new type while the rows are copied.
    recast: list[str] = field(default_factory=list)


def column_limit_problems(spec: TableSpec, engine: str, limit: int) -> list[str]:
    """Each field is a column of the table (flat_table) or of the view (jsonb)."""
    if len(spec.fields) <= limit:
        return []
    count = len(spec.fields)
    return [f"{engine} tables and views have at most {limit} columns; this schema has {count}"]


class ProviderError(Exception):
    """The provider could not do what was asked; the message says why."""


class Provider(ABC):
    """Materializes datatables of one provider type on one engine.

    An instance is bound to one datasource's storage (for SQLite: one Datasette database).
    Every method that changes storage does so in one transaction and returns the SQL it ran.
    """

    provider_type: ClassVar[str]
    engine: ClassVar[str]

    @classmethod
    @abstractmethod
    def data_resource(cls, physical_name: str) -> str:
        """The table or view that serves the datatable's rows with one column per field."""

    @abstractmethod
    def create_sql(self, spec: TableSpec) -> list[str]:
        """The statements that materialize ``spec``, in order."""

    @abstractmethod
    def drop_sql(self, physical_name: str) -> list[str]:
        """The statements that remove what create_sql made."""

    @abstractmethod
    async def materialize(self, spec: TableSpec) -> list[str]:
        """Run create_sql in one transaction; ProviderError if the table already exists."""

    @abstractmethod
    async def drop(self, physical_name: str) -> list[str]:
        """Run drop_sql in one transaction."""

    @abstractmethod
    async def hide(self, spec: TableSpec) -> list[str]:
        """Soft delete: move the materialized ``spec`` out of the served database, keeping its
        rows, constraints and indexes; foreign keys to other tables are set aside."""

    @abstractmethod
    async def unhide(self, spec: TableSpec) -> list[str]:
        """Restore: bring a hidden ``spec`` back exactly as it was. ProviderError if its name
        is taken or its rows no longer satisfy its foreign keys."""

    @abstractmethod
    async def placement(self, spec: TableSpec) -> set[str]:
        """Where the table is now: a subset of {"served", "hidden"} (crash recovery)."""

    @abstractmethod
    async def drop_hidden(self, spec: TableSpec) -> list[str]:
        """Drop a hidden table for good (the purge of a soft-deleted datatable)."""

    @abstractmethod
    async def rename(self, spec: TableSpec, new_physical_name: str) -> list[str]:
        """Rename the materialized ``spec`` to ``new_physical_name``, keeping its rows."""

    @abstractmethod
    def limit_problems(self, spec: TableSpec) -> list[str]:
        """What in ``spec`` exceeds this engine's limits; checked when a schema is written or
        planned, so that a plan and its apply never disagree."""

    @abstractmethod
    def plan_migration(self, old: TableSpec, new: TableSpec, operations: list) -> MigrationPlan:
        """Decide each operation's effect and the SQL that carries the change out."""

    @abstractmethod
    async def read_records(
        self, spec: TableSpec, fields: list[str], deadline: float | None = None
    ) -> tuple[list[tuple[Any, dict[str, Any]]], bool]:
        """Stored rows as (row key, {field: JSON-native value}) for ``fields``, and whether
        they are all of them: reading stops once ``time.monotonic()`` passes ``deadline``."""

    @abstractmethod
    async def migrate(
        self,
        old: TableSpec,
        new: TableSpec,
        plan: MigrationPlan,
        cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> int:
        """Run ``plan`` in one transaction; ``cast`` re-casts batches of copied records.

        Returns the number of rows rewritten (0 for metadata and in-place changes).
        """

    @abstractmethod
    async def has_schema(self, spec: TableSpec, rebuilt: bool) -> bool:
        """Whether the physical storage already has ``spec``'s shape (crash recovery).

        ``rebuilt`` says whether the change in question was a rebuild.
        """

    async def refresh_views(self, spec: TableSpec) -> list[str]:
        """Recreate the views serving ``spec`` that an earlier release wrote otherwise (views
        hold no data); the SQL run. A provider whose views never change has none to redo."""
        return []

    # Rows --------------------------------------------------------------------------------

    @abstractmethod
    async def write_rows(
        self, spec: TableSpec, rows: list[dict[str, Any]], mode: str, returning: bool
    ) -> list[dict[str, Any]] | None:
        """Write validated rows in one transaction (mode: insert, ignore, replace, upsert);
        the stored rows when ``returning``. ProviderError when the engine refuses them."""

    @abstractmethod
    async def import_batches(
        self,
        spec: TableSpec,
        batches: Iterator[tuple[list[dict[str, Any]], list[int]]],
        mode: str,
        skip: bool,
        on_refused: Callable[[list[int]], None],
    ) -> None:
        """Write every (rows, row numbers) batch in ONE transaction."""

    @abstractmethod
    async def update_row(self, spec: TableSpec, key: dict[str, Any], row: dict[str, Any]) -> None:
        """Replace the stored row found by ``key`` with the validated ``row``."""

    @abstractmethod
    async def delete_row(self, spec: TableSpec, key: dict[str, Any]) -> bool:
        """Delete the stored row found by ``key``; whether there was one."""

    @abstractmethod
    async def existing_values(
        self,
        spec: TableSpec,
        columns: tuple[str, ...],
        candidates: list[Any],
        owner: list[str] | None = None,
    ) -> dict[Any, tuple | None]:
        """Which candidate values (tuples for several columns) are stored, and by which row."""

    @abstractmethod
    async def all_keys(self, spec: TableSpec, columns: tuple[str, ...]) -> set[tuple]:
        """Every stored value tuple of ``columns`` (foreign-key targets)."""

    @abstractmethod
    async def rows_by_key(
        self, spec: TableSpec, key: list[str], keys: list[tuple]
    ) -> dict[tuple, dict[str, Any]]:
        """Stored rows, as JSON-native records, for each key tuple found."""

    @abstractmethod
    def read_pages(
        self, spec: TableSpec, names: list[str], page_rows: int
    ) -> AsyncIterator[list[list[Any]]]:
        """Stored rows as lists of JSON-native values, a page at a time, in insertion order."""

    @abstractmethod
    async def count_rows(self, physical_name: str) -> int | None:
        """Rows in the datatable, or None if it is not materialized."""
