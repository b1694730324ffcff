"""The canonical JSON form of a Table Schema, and the hash clients use to detect change."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(descriptor: dict[str, Any]) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept: equal schemas give equal text."""
    return json.dumps(descriptor, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_hash(descriptor: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON, as lowercase hex.

    >>> schema_hash({"fields": [{"name": "id", "type": "integer"}]})[:12]
    '6d4d551404fb'
    """
    return hashlib.sha256(canonical_json(descriptor).encode("utf-8")).hexdigest()
