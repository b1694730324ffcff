"""The plugin's configuration block (DESIGN §8), read once at startup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLUGIN_NAME = "datasette-dataservice"
CATALOG_DATABASE = "_dataservice"

KNOWN_KEYS = {
    "data_dir",
    "postgres",
    "rate_limits",
    "tenancy",
    "max_body_bytes",
    "max_rows_per_request",
}


@dataclass(frozen=True)
class DataServiceConfig:
    data_dir: Path
    max_body_bytes: int = 10 * 1024 * 1024
    max_rows_per_request: int = 10_000

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @classmethod
    def from_plugin_config(cls, raw: dict[str, Any] | None) -> DataServiceConfig:
        raw = raw or {}
        unknown = set(raw) - KNOWN_KEYS
        if unknown:
            raise ValueError(
                f"Unknown {PLUGIN_NAME} setting(s): {', '.join(sorted(unknown))}; "
                f"known settings are {', '.join(sorted(KNOWN_KEYS))}"
            )
        return cls(
            data_dir=Path(raw.get("data_dir") or "dataservice-data").resolve(),
            max_body_bytes=int(raw.get("max_body_bytes", cls.max_body_bytes)),
            max_rows_per_request=int(raw.get("max_rows_per_request", cls.max_rows_per_request)),
        )
