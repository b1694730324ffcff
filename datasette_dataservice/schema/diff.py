"""Diff two Table Schemas into an ordered list of operations.

A diff cannot tell a rename from a drop plus an add, so renames are explicit:
``diff_schemas(old, new, renames={"old_name": "new_name"})``.

>>> old = {"fields": [{"name": "id", "type": "integer"}, {"name": "n", "type": "string"}]}
>>> new = {"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"},
...                   {"name": "age", "type": "integer"}]}
>>> [op.kind for op in diff_schemas(old, new, {"n": "name"})]
['rename_field', 'add_field']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from typing import Any

from ..errors import BadRequest

CONSTRAINTS = (
    "required",
    "unique",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
)
# Keys of a field that change how values are read or stored, beyond "type".
TYPE_KEYS = ("type", "format")
CAST_OPTIONS = (
    "trueValues",
    "falseValues",
    "decimalChar",
    "groupChar",
    "bareNumber",
    "delimiter",
    "itemType",
    "missingValues",
)
TABLE_KEYS = ("primaryKey", "foreignKeys", "uniqueKeys", "missingValues")


@dataclass
class Operation:
    """One step from the old schema to the new one.

    ``effect`` says what it costs on the physical table: "metadata" (catalog only),
    "alter" (an in-place ALTER TABLE) or "rebuild" (a new table, rows copied); providers
    set it, since it depends on the engine.
    """

    kind: str
    field: str | None = None
    before: Any = None
    after: Any = None
    effect: str = "metadata"
    # Filled by a dry run: existing rows that would fail this step.
    failing_rows: int | None = None
    examples: list[Any] = dataclass_field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def checks_rows(self) -> bool:
        """Whether existing rows can fail this step (a new optional field cannot: it is null)."""
        if self.kind == "add_field":
            return bool((self.after.get("constraints") or {}).get("required"))
        return self.kind in {
            "add_field",
            "change_type",
            "add_constraint",
            "change_constraint",
            "change_primary_key",
            "add_foreign_key",
            "add_unique_key",
        }


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema["fields"]}


def check_renames(old: dict, new: dict, renames: Any) -> dict[str, str]:
    """The renames mapping, refused with every problem if it does not fit the two schemas."""
    if renames is None:
        return {}
    if not isinstance(renames, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
    ):
        raise BadRequest('"renames" must be an object mapping old field names to new ones')
    old_fields, new_fields = _fields(old), _fields(new)
    problems = []
    for before, after in renames.items():
        if before not in old_fields:
            problems.append(f'renames: "{before}" is not a field of the current schema')
        if after not in new_fields:
            problems.append(f'renames: "{after}" is not a field of the new schema')
        elif after in old_fields and after not in renames:
            problems.append(f'renames: "{after}" already exists; rename or drop it too')
    if len(set(renames.values())) != len(renames):
        problems.append("renames: two fields cannot be renamed to the same name")
    if problems:
        raise BadRequest(problems)
    return dict(renames)


def diff_schemas(
    old: dict[str, Any], new: dict[str, Any], renames: dict[str, str] | None = None
) -> list[Operation]:
    """The operations that turn ``old`` into ``new``, in the order they apply."""
    renames = check_renames(old, new, renames)
    old_fields, new_fields = _fields(old), _fields(new)
    renamed_to = set(renames.values())
    operations: list[Operation] = []
    for name in old_fields:
        if name not in new_fields and name not in renames:
            operations.append(Operation("drop_field", name, before=old_fields[name]))
    for before, after in renames.items():
        if before != after:
            operations.append(Operation("rename_field", after, before=before, after=after))
    for name, new_field in new_fields.items():
        old_name = next((b for b, a in renames.items() if a == name), name)
        old_field = old_fields.get(old_name) if (name in renamed_to or name in old_fields) else None
        if old_field is None:
            operations.append(Operation("add_field", name, after=new_field))
            continue
        operations += _field_changes(name, old_field, new_field)
    operations += _table_changes(old, new, renames)
    return operations


def _field_changes(name: str, old: dict, new: dict) -> list[Operation]:
    operations = []
    old_type = {k: old.get(k) for k in (*TYPE_KEYS, *CAST_OPTIONS) if old.get(k) is not None}
    new_type = {k: new.get(k) for k in (*TYPE_KEYS, *CAST_OPTIONS) if new.get(k) is not None}
    if (old.get("type") or "string") != (new.get("type") or "string") or old_type != new_type:
        operations.append(Operation("change_type", name, before=old_type, after=new_type))
    old_c, new_c = old.get("constraints") or {}, new.get("constraints") or {}
    for key in CONSTRAINTS:
        before, after = old_c.get(key), new_c.get(key)
        if before == after or (key in {"required", "unique"} and bool(before) == bool(after)):
            continue
        if before is None or before is False:
            kind = "add_constraint"
        elif after is None or after is False:
            kind = "drop_constraint"
        else:
            kind = "change_constraint"
        operations.append(Operation(kind, name, before={key: before}, after={key: after}))
    described = ("title", "description", "example", "rdfType", "categories", "categoriesOrdered")
    if any(old.get(k) != new.get(k) for k in described):
        operations.append(
            Operation(
                "change_description",
                name,
                before={k: old.get(k) for k in described if k in old},
                after={k: new.get(k) for k in described if k in new},
            )
        )
    return operations


def _renamed(keys: Any, renames: dict[str, str]) -> Any:
    if isinstance(keys, str):
        return renames.get(keys, keys)
    if isinstance(keys, list):
        return [renames.get(k, k) for k in keys]
    return keys


def _foreign_key_id(fk: dict, renames: dict[str, str] | None = None) -> str:
    renames = renames or {}
    reference = fk.get("reference") or {}
    return json.dumps(
        [_renamed(fk.get("fields"), renames), reference.get("resource"), reference.get("fields")],
        sort_keys=True,
    )


def _table_changes(old: dict, new: dict, renames: dict[str, str]) -> list[Operation]:
    operations = []
    old_pk = _renamed(old.get("primaryKey"), renames)
    if isinstance(old_pk, str):
        old_pk = [old_pk]
    new_pk = new.get("primaryKey")
    if isinstance(new_pk, str):
        new_pk = [new_pk]
    if (old_pk or []) != (new_pk or []):
        operations.append(Operation("change_primary_key", before=old_pk, after=new_pk))
    old_fks = {_foreign_key_id(fk, renames): fk for fk in old.get("foreignKeys") or []}
    new_fks = {_foreign_key_id(fk): fk for fk in new.get("foreignKeys") or []}
    operations += [
        Operation("drop_foreign_key", before=old_fks[k]) for k in old_fks if k not in new_fks
    ]
    operations += [
        Operation("add_foreign_key", after=new_fks[k]) for k in new_fks if k not in old_fks
    ]
    old_uks = [_renamed(k, renames) for k in old.get("uniqueKeys") or []]
    new_uks = list(new.get("uniqueKeys") or [])
    operations += [Operation("drop_unique_key", before=k) for k in old_uks if k not in new_uks]
    operations += [Operation("add_unique_key", after=k) for k in new_uks if k not in old_uks]
    if old.get("missingValues") != new.get("missingValues"):
        operations.append(
            Operation(
                "change_missing_values",
                before=old.get("missingValues"),
                after=new.get("missingValues"),
            )
        )
    old_order = [renames.get(f["name"], f["name"]) for f in old["fields"]]
    new_order = [f["name"] for f in new["fields"] if f["name"] in set(old_order)]
    if [n for n in old_order if n in set(new_order)] != new_order:
        operations.append(Operation("reorder_fields", before=old_order, after=new_order))
    described = ("title", "description")
    if any(old.get(k) != new.get(k) for k in described):
        operations.append(
            Operation(
                "change_description",
                before={k: old.get(k) for k in described if k in old},
                after={k: new.get(k) for k in described if k in new},
            )
        )
    return operations


def rename_schema(schema: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """``schema`` with fields renamed everywhere they appear (fields, keys)."""
    if not renames:
        return schema
    renamed = dict(schema)
    renamed["fields"] = [{**f, "name": renames.get(f["name"], f["name"])} for f in schema["fields"]]
    if "primaryKey" in schema:
        renamed["primaryKey"] = _renamed(schema["primaryKey"], renames)
    if "uniqueKeys" in schema:
        renamed["uniqueKeys"] = [_renamed(k, renames) for k in schema["uniqueKeys"]]
    if "foreignKeys" in schema:
        renamed["foreignKeys"] = [
            {**fk, "fields": _renamed(fk.get("fields"), renames)}
            if (fk.get("reference") or {}).get("resource")
            else {
                **fk,
                "fields": _renamed(fk.get("fields"), renames),
                "reference": {
                    **fk["reference"],
                    "fields": _renamed(fk["reference"]["fields"], renames),
                },
            }
            for fk in schema["foreignKeys"]
        ]
    return renamed
