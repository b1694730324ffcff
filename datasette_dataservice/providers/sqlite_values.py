"""Between SQLite storage values and the JSON-native values of the row validator."""

from __future__ import annotations

import json
from typing import Any

JSON_TEXT_TYPES = {"object", "array", "list", "geojson"}


def to_native(value: Any, field: dict[str, Any]) -> Any:
    """A stored value as the JSON value a client would have sent for ``field``."""
    if value is None:
        return None
    kind = field.get("type") or "string"
    if kind == "boolean" and isinstance(value, int):
        return bool(value)
    if kind in JSON_TEXT_TYPES and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def to_storage(value: Any, field: dict[str, Any]) -> Any:
    """A validated JSON-native value as SQLite stores it in a flat_table column."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def needs_conversion(field: dict[str, Any]) -> bool:
    """Whether validated values of ``field`` differ from what SQLite stores."""
    return (field.get("type") or "string") in {"boolean", "any"} | JSON_TEXT_TYPES
