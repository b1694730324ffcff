"""Stored rows that other rows refer to: deleting them, or overwriting the key values that
are referred to, is refused with who refers to them."""

from __future__ import annotations

import json
from typing import Any

from ..errors import Conflict
from ..schema.references import names_of
from .core import DataService
from .datatables import owner_columns, table_spec
from .foreign_keys import referencing_datatables

MAX_REPORTED = 10


async def ensure_rows_unreferenced(
    service: DataService,
    datatable: dict[str, Any],
    before: list[dict[str, Any]],
    after: list[dict[str, Any] | None],
) -> None:
    """409 if stored rows of a referencing datatable (or of this one, by a self-reference)
    refer to key values that ``before`` (stored rows about to be deleted or overwritten) hold
    and ``after`` (the same rows once written; None: deleted) no longer do. Checked before
    the write, on every engine and provider: SQLite reports only "FOREIGN KEY constraint
    failed", and jsonb documents have no constraint to fail."""
    referencing = await referencing_datatables(service, datatable, live_only=True)
    name = datatable["name"].lower()
    own = json.loads(datatable["json_schema"]).get("foreignKeys") or []
    if any((fk["reference"].get("resource") or "").lower() in ("", name) for fk in own):
        referencing.append(datatable)  # a self-reference: its own rows may refer to them
    problems: list[str] = []
    for child in referencing:
        if not child["is_materialized"]:
            continue
        spec = table_spec(child)
        owner = owner_columns(child, spec)
        leaving = (
            {tuple(row.get(k) for k in owner) for row in before} if child is datatable else set()
        )
        for fk in spec.schema.get("foreignKeys") or []:
            resource = (fk["reference"].get("resource") or "").lower()
            if resource != name and not (child is datatable and resource == ""):
                continue
            remote, local = names_of(fk["reference"]["fields"]), names_of(fk["fields"])
            kept = {tuple(row.get(f) for f in remote) for row in after if row is not None}
            gone = {tuple(row.get(f) for f in remote) for row in before} - kept
            candidates = [v if len(v) > 1 else v[0] for v in gone if None not in v]
            holders = await service.provider_for(child).existing_values(
                spec, tuple(local), candidates, owner
            )
            for value, holder in holders.items():
                if holder in leaving:
                    continue  # a row that refers to itself goes with it
                values = value if isinstance(value, tuple) else (value,)
                shown = ", ".join(f"{f} = {v!r}" for f, v in zip(remote, values, strict=True))
                key = ", ".join(f"{k} = {v!r}" for k, v in zip(owner, holder, strict=True))
                problems.append(
                    f'the row of "{datatable["name"]}" with {shown} is still referenced by '
                    f'datatable "{child["name"]}" (its row {key})'
                )
    if problems:
        more = len(problems) - MAX_REPORTED
        raise Conflict(
            problems[:MAX_REPORTED]
            + ([f"... and {more} more"] if more > 0 else [])
            + ["delete those rows, or change what they refer to, first"]
        )
