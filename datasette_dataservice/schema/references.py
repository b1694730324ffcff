"""What a foreign key needs of the datatable it references, checked when a schema is written.

SQLite and PostgreSQL both insist that a foreign key's reference fields are the primary key or
a unique key of the referenced table (SQLite accepts the DDL and then fails every write to
either table with "foreign key mismatch"), and a value can only match a value of its own type.
Pure: the caller supplies the schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A referenced datatable's schema by name (case-insensitive), or None if there is none.
Targets = Callable[[str], "dict[str, Any] | None"]


def names_of(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def key_sets(schema: dict[str, Any]) -> list[frozenset[str]]:
    """The field sets whose values are unique: primary key, uniqueKeys, unique fields."""
    keys = [schema.get("primaryKey"), *(schema.get("uniqueKeys") or [])]
    keys += [f["name"] for f in schema["fields"] if (f.get("constraints") or {}).get("unique")]
    return [frozenset(names_of(key)) for key in keys if names_of(key)]


def _type(field: dict[str, Any]) -> str:
    return field.get("type") or "string"


def foreign_key_problems(
    index: int, fk: dict[str, Any], schema: dict[str, Any], target: dict[str, Any], label: str
) -> list[str]:
    """Problems with ``schema``'s foreignKeys[index] pointing at ``target`` (called ``label``)."""
    where = f"foreignKeys[{index}]"
    local, remote = names_of(fk.get("fields")), names_of(fk["reference"].get("fields"))
    target_fields = {f["name"]: f for f in target["fields"]}
    missing = [name for name in remote if name not in target_fields]
    if missing:
        known = ", ".join(f'"{name}"' for name in target_fields)
        return [
            f'{where}: reference.fields names "{name}", which {label} does not have '
            f"(fields: {known})"
            for name in missing
        ]
    problems = []
    if frozenset(remote) not in key_sets(target):
        shown = ", ".join(f'"{name}"' for name in remote)
        problems.append(
            f"{where}: reference.fields {shown} of {label} are neither its primary key nor "
            "unique; reference its primary key, or make those fields unique there "
            '("uniqueKeys" or "constraints": {"unique": true})'
        )
    own_fields = {f["name"]: f for f in schema["fields"]}
    for name, other in zip(local, remote, strict=False):
        if name in own_fields and _type(own_fields[name]) != _type(target_fields[other]):
            problems.append(
                f'{where}: field "{name}" is {_type(own_fields[name])} but "{other}" of {label} '
                f"is {_type(target_fields[other])}; a foreign key pairs fields of the same type"
            )
    return problems


def reference_problems(schema: dict[str, Any], own_name: str | None, targets: Targets) -> list[str]:
    """Problems with every foreign key of ``schema`` (a datatable called ``own_name``); a
    reference to "" or to ``own_name`` is to ``schema`` itself. Unknown datatables are skipped
    (the caller reports them)."""
    problems = []
    for index, fk in enumerate(schema.get("foreignKeys") or []):
        resource = fk["reference"].get("resource") or ""
        itself = resource == "" or resource.lower() == (own_name or "").lower()
        target = schema if itself else targets(resource)
        if target is not None:
            label = "this datatable" if itself else f'datatable "{resource}"'
            problems += foreign_key_problems(index, fk, schema, target, label)
    return problems


def inbound_problems(
    name: str, new_schema: dict[str, Any], referencing: dict[str, dict[str, Any]]
) -> list[str]:
    """What changing datatable ``name`` to ``new_schema`` breaks in the foreign keys of the
    ``referencing`` datatables (name -> schema) that point at it."""
    problems = []
    for child, schema in referencing.items():
        for index, fk in enumerate(schema.get("foreignKeys") or []):
            if (fk["reference"].get("resource") or "").lower() != name.lower():
                continue
            for problem in foreign_key_problems(
                index, fk, schema, new_schema, f'datatable "{name}"'
            ):
                problems.append(f'datatable "{child}" references "{name}": {problem}')
    return problems
