"""The provider interface: how a datatable becomes a physical table and back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
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
    async def rename(self, spec: TableSpec, new_physical_name: str) -> list[str]:
        """Rename the materialized ``spec`` to ``new_physical_name``, keeping its rows."""

    @abstractmethod
    async def count_rows(self, physical_name: str) -> int | None:
        """Rows in the datatable, or None if it is not materialized."""
