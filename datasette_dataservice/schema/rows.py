"""Row validation against a Table Schema, compiled once per schema (frictionless semantics).

Each schema becomes a generated Python function (like fastjsonschema does) that checks a
whole batch of rows in one loop: inline type checks, precompiled regexes and constraint
comparisons for the common JSON values, and frictionless' own cell reader (see
:mod:`.cast`) for anything else, so errors carry frictionless' types, notes and messages.
Uniqueness, primary and foreign keys are checked within the batch. Pure: no I/O.

>>> validator = compile_validator({
...     "fields": [
...         {"name": "id", "type": "integer"},
...         {"name": "score", "type": "number", "constraints": {"minimum": 0}},
...     ],
...     "primaryKey": ["id"],
... })
>>> result = validator.validate_records([{"id": 1, "score": "2.5"}, {"id": 1, "score": -1}])
>>> result.rows, result.row_numbers
([{'id': 1, 'score': 2.5}], [2])
>>> for error in result.errors:
...     print(error["rowNumber"], error["type"], error["note"])
3 constraint-error constraint "minimum" is "0"
3 primary-key the same as in the row at position 2
>>> validator.validate_table(["id", "score"], [["7", "1e3"]]).rows
[{'id': 7, 'score': 1000.0}]
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from frictionless import Field, Schema

from .canonical import canonical_json, schema_hash
from .cast import UNHASHABLE_TYPES, FieldCaster, RowErrors, hashable, make_error
from .column_checks import ColumnChecks
from .descriptor import check_descriptor
from .fast_paths import field_code

#: ``foreign_keys(resource, fields)``: the key tuples that exist in table ``resource`` ("" for
#: this table: its rows already stored, the batch's own rows are added), or None to skip it
ForeignKeys = Callable[[str, tuple[str, ...]], set[tuple] | None]


@dataclass
class Result:
    """The outcome of validating a batch: the cast rows that passed and every error."""

    rows: list[dict]
    row_numbers: list[int]
    errors: list[dict]
    row_count: int = 0
    #: per unique column set (see RowValidator.unique_columns): value -> last row number;
    #: the value is the cell itself for one column, a tuple for several
    seen: dict[tuple[str, ...], dict] = field(default_factory=dict, repr=False)

    @property
    def valid(self) -> bool:
        return not self.errors

    def report(self, *, limit: int = 1000) -> dict[str, Any]:
        """A frictionless-style report with the first ``limit`` errors."""
        return {
            "valid": self.valid,
            "stats": {
                "rows": self.row_count,
                "errors": len(self.errors),
                "invalid_rows": self.row_count - len(self.rows),
            },
            "errors": self.errors[:limit],
        }


class RowValidator:
    """A Table Schema compiled for validating rows; build it with :func:`compile_validator`."""

    def __init__(self, descriptor: dict[str, Any]) -> None:
        problems = check_descriptor(descriptor)
        if problems:
            raise ValueError("invalid Table Schema: " + "; ".join(problems))
        schema = Schema.from_descriptor(json.loads(json.dumps(descriptor)))
        self._schema = schema
        self.fields: list[str] = [f.name for f in schema.fields]
        self.primary_key: list[str] = list(schema.primary_key)
        self.unique_keys: list[list[str]] = [
            [key] if isinstance(key, str) else list(key)
            for key in descriptor.get("uniqueKeys") or []
        ]
        self.foreign_keys: list[dict[str, Any]] = list(schema.foreign_keys)
        self.fields_match: str = descriptor.get("fieldsMatch", "exact")
        self._records = _Program(self, list(range(len(self.fields))), records=True)
        self._tables: dict[tuple, _Program] = {}
        self.source: str = self._records.source

    def unique_columns(self) -> list[tuple[str, ...]]:
        """Column sets whose values must be unique (primary key, unique fields, uniqueKeys),
        which the caller should also check against rows already in the database."""
        return list(self._records.unique_sets)

    def validate_records(
        self,
        records: Iterable[dict[str, Any]],
        *,
        first_row_number: int = 2,
        foreign_keys: ForeignKeys | None = None,
        reference: bool = False,
    ) -> Result:
        """Validate JSON objects keyed by field name (a missing key is null; a key that is
        not a field is an "extra-cell" error). A row that needed no casting is passed
        through as the very dict given, else a new dict in schema order.

        A list of rows is first checked column by column (:mod:`.column_checks`), which
        answers for a batch with nothing to cast or report; ``reference`` skips that, so
        that tests can compare the two."""
        return self._records.run(records, first_row_number, foreign_keys, [], not reference)

    def validate_table(
        self,
        header: list[str],
        rows: Iterable[list[Any]],
        *,
        first_row_number: int = 2,
        foreign_keys: ForeignKeys | None = None,
    ) -> Result:
        """Validate CSV-style rows: header labels, then lists of (string) cells. Columns are
        matched to fields as the schema's ``fieldsMatch`` says (by position by default)."""
        errors, layout = self._read_header([str(label) for label in header])
        program = self._tables.get(layout)
        if program is None:
            program = self._tables[layout] = _Program(self, list(layout), records=False)
        return program.run(rows, first_row_number, foreign_keys, errors)

    def _read_header(self, labels: list[str]) -> tuple[list[dict], tuple]:
        """Label errors as frictionless' Header reports them, and the field of each column:
        a schema field index, or a label (an extra column, read as an "any" field)."""
        fields, errors = self.fields, []
        if not labels:
            return errors, tuple(range(len(fields)))

        def label_error(kind: str, number: int, label: str, name: str | None, note: str = ""):
            errors.append(make_error(kind, None, note, label, name, number))

        mode = self.fields_match
        if mode == "exact":
            matched: list[int | None] = [i if i < len(fields) else None for i in range(len(labels))]
            missing = list(range(len(labels), len(fields)))
        else:
            first = {label: n for n, label in reversed(list(enumerate(labels)))}
            matched = [
                fields.index(label) if label in fields and first[label] == n else None
                for n, label in enumerate(labels)
            ]
            missing = [i for i, name in enumerate(fields) if name not in labels]
            if mode in ("superset", "partial"):
                keys = set(self.primary_key)
                missing = [
                    i for i in missing if self._schema.fields[i].required or fields[i] in keys
                ]
        for number, label in enumerate(labels, start=1):
            if matched[number - 1] is None and mode not in ("subset", "partial"):
                if mode == "exact" or first[label] == number - 1:
                    label_error("extra-label", number, label, None)
        if mode == "partial" and fields and not any(i is not None for i in matched):
            errors.append(make_error("unmatched-header"))
        for offset, index in enumerate(missing, start=len(labels) + 1):
            label_error("missing-label", offset, "", fields[index])
        for number, label in enumerate(labels, start=1):
            index = matched[number - 1]
            earlier = [str(n) for n, seen in enumerate(labels[: number - 1], 1) if seen == label]
            if label and earlier and (mode == "exact" and index is not None or mode != "exact"):
                note = f'at position "{", ".join(earlier)}"'
                name = fields[index] if index is not None else label
                label_error("duplicate-label", number, label, name, note)
            elif mode != "exact" or index is None:
                continue
            elif not label:
                label_error("blank-label", number, "", fields[index])
            elif label != fields[index]:
                label_error("incorrect-label", number, label, fields[index])
        used = {fields[i] for i in matched if i is not None}
        layout: list[int | str] = []
        for index, label in zip(matched, labels, strict=True):
            if index is not None:
                layout.append(index)
                continue
            name, suffix = label, 2
            while name in used:
                name, suffix = f"{label}{suffix}", suffix + 1
            used.add(name)
            layout.append(name)
        return errors, tuple(layout)


@functools.lru_cache(maxsize=256)
def _compile(digest: str, text: str) -> RowValidator:
    return RowValidator(json.loads(text))


def compile_validator(schema: dict[str, Any]) -> RowValidator:
    """The validator for a Table Schema descriptor, compiled once and cached by schema hash.

    Raises ValueError if the descriptor itself is invalid.
    """
    return _compile(schema_hash(schema), canonical_json(schema))


class _Program:
    """The generated loop for one layout of columns (records: the schema's own fields)."""

    def __init__(self, validator: RowValidator, layout: list[int | str], records: bool) -> None:
        fields: list[Field] = [
            validator._schema.fields[item]
            if isinstance(item, int)
            else Field.from_descriptor({"name": item, "type": "any"})
            for item in layout
        ]
        self.names = names = [f.name for f in fields]
        where = {name: i for i, name in enumerate(names)}
        pk = validator.primary_key
        self.pk = [where[n] for n in pk] if pk and set(pk) <= set(names) else []
        # A unique field that is the whole primary key is checked (and reported) once, as it.
        self.unique = [
            i for i, f in enumerate(fields) if f.constraints.get("unique") and [i] != self.pk
        ]
        self.ukeys = [
            [where[n] for n in key]
            for key in validator.unique_keys
            if set(key) <= set(names)
            and key != pk
            and [where[key[0]]] != key
            and not (len(key) == 1 and where[key[0]] in self.unique)
        ]
        self.fks: list[tuple[list[int], str, tuple[str, ...], list[int] | None]] = []
        for fk in validator.foreign_keys:  # local fields, resource, its fields, own fields
            local, ref = fk["fields"], tuple(fk["reference"]["fields"])
            if set(local) <= set(names):
                own = [where[n] for n in ref] if set(ref) <= set(names) else None
                resource = fk["reference"].get("resource") or ""
                self.fks.append(([where[n] for n in local], resource, ref, own))
        self.unique_sets = (
            [(names[i],) for i in self.unique]
            + ([tuple(pk)] if self.pk else [])
            + [tuple(names[j] for j in key) for key in self.ukeys]
        )
        self.errors = RowErrors(names, self.ukeys)
        casters = [FieldCaster(f, i + 1) for i, f in enumerate(fields)]
        self.source, self.function = _generate(casters, self, records)
        self.columns = ColumnChecks(self, casters) if records else None

    def run(
        self,
        source: Iterable[Any],
        first: int,
        foreign_keys: ForeignKeys | None,
        errors: list[dict],
        by_column: bool = False,
    ) -> Result:
        checked = self.columns.run(source, first) if by_column and self.columns else None
        if checked is not None:  # every row kept as given: what the loop would return
            rows, numbers, end, seen, fk_rows, lookups = checked
        else:
            seen = [{} for _ in self.unique_sets]
            lookups = [set() for _ in self.fks]
            fk_rows = []
            rows, numbers, end = self.function(source, first, errors, seen, fk_rows, lookups)
        failed = self._check_foreign_keys(fk_rows, lookups, foreign_keys, errors)
        if failed:
            kept = [(r, n) for r, n in zip(rows, numbers, strict=True) if n not in failed]
            rows, numbers = [r for r, _ in kept], [n for _, n in kept]
            errors.sort(key=lambda e: (e["rowNumber"] is not None, e["rowNumber"] or 0))
        seen_by_columns = dict(zip(self.unique_sets, seen, strict=True))
        return Result(rows, numbers, errors, end - first, seen_by_columns)

    def _check_foreign_keys(
        self,
        fk_rows: list[tuple[int, int, tuple]],
        lookups: list[set],
        foreign_keys: ForeignKeys | None,
        errors: list[dict],
    ) -> set[int]:
        existing: dict[int, set | None] = {}
        for i, (_, resource, ref, _own) in enumerate(self.fks):
            outside = foreign_keys(resource, ref) if foreign_keys and fk_rows else None
            if resource == "":
                existing[i] = lookups[i] | set(outside or ())
            else:
                existing[i] = None if outside is None else set(outside)
        failed: set[int] = set()
        for row_number, i, cells in fk_rows:
            keys = existing[i]
            if keys is None or cells in keys:
                continue
            local, resource, ref, _ = self.fks[i]
            note = 'for "{}": values "{}" not found in the lookup table "{}" as "{}"'.format(
                ", ".join(self.names[j] for j in local),
                ", ".join(map(str, cells)),
                resource,
                ", ".join(ref),
            )
            errors.append(make_error("foreign-key", row_number, note))
            failed.add(row_number)
        return failed


def _generate(casters: list[FieldCaster], program: _Program, records: bool):
    """Python source for the batch loop, and the function compiled from it."""
    count, names = len(casters), program.names
    consts: dict[str, Any] = {"ERR": program.errors, "HK": hashable, "NONE": (None,) * count}
    consts["FIELDS"] = program.errors.field_set
    slots = "".join(f"u{i}, " for i in range(len(program.unique_sets)))
    lookups = "".join(f"l{i}, " for i in range(len(program.fks)))
    head = [
        "def run(source, rn, errs, seen, fk_rows, lookups):",
        "    rows = []",
        "    nums = []",
        "    add_row = rows.append",
        "    add_num = nums.append",
    ]
    head += [f"    {slots}= seen"] if slots else []
    head += [f"    {lookups}= lookups"] if lookups else []
    head.append("    for row in source:")
    if records:
        body = [
            "if type(row) is not dict and not isinstance(row, dict):",
            "    ERR.not_object(errs, rn, row)",
            "    rn += 1",
            "    continue",
            "g = row.get",
            "new = False",
        ]
    else:
        body = [
            "n = len(row)",
            f"if n != {count}:",
            f"    extra = row[{count}:]",
            f"    row = [*row[:{count}], *NONE[n:]]",
            "".join(f"v{i}, " for i in range(count)) + "= row",
        ]
    body += ["bad = False", "nn = 0"]
    for i, caster in enumerate(casters):
        body += field_code(i, caster, consts, records)
    if not records:
        body += [f"if n != {count}:", "    ERR.shape(errs, rn, extra, n)", "    bad = True"]
    body += [f"if nn == {count}:", "    ERR.blank(errs, rn)", "    bad = True"]
    if records:
        body += [
            "if not row.keys() <= FIELDS:",
            "    ERR.extra_keys(errs, rn, row)",
            "    bad = True",
        ]
    body += _integrity_code(casters, program)
    new_row = "add_row({" + ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names)) + "})"
    if records:  # a row that needed no change is kept as given
        body += [
            "if bad:",
            "    pass",
            f"elif new or len(row) != {count}:",
            f"    {new_row}",
            "    add_num(rn)",
            "else:",
            "    add_row(row)",
            "    add_num(rn)",
        ]
    else:
        body += ["if not bad:", f"    {new_row}", "    add_num(rn)"]
    body.append("rn += 1")
    body = head + ["        " + line for line in body] + ["    return rows, nums, rn"]
    source = "\n".join(body) + "\n"
    factory = f"def build({', '.join(sorted(consts))}):\n"
    factory += "".join(f"    {line}\n" for line in source.splitlines()) + "    return run\n"
    namespace: dict[str, Any] = {}
    exec(compile(factory, "<row validator>", "exec"), namespace)
    return source, namespace["build"](**consts)


def _integrity_code(casters: list[FieldCaster], program: _Program) -> list[str]:
    """Uniqueness, primary key and foreign key checks, in frictionless' order."""

    def cells(indexes: list[int], one: bool = False) -> str:  # dicts and lists as JSON text
        hashed = [f"HK(v{j})" if casters[j].type in UNHASHABLE_TYPES else f"v{j}" for j in indexes]
        return hashed[0] if one else "(" + "".join(f"{cell}, " for cell in hashed) + ")"

    def remember(slot: int, call: str) -> list[str]:
        return [
            f"    m = u{slot}.get(k)",
            f"    u{slot}[k] = rn",
            "    if m:",
            f"        ERR.{call}",
            "        bad = True",
        ]

    lines: list[str] = []
    slot = 0
    for i in program.unique:
        lines += [
            f"# unique {casters[i].name!r}",
            f"if v{i} is not None:",
            f"    k = {cells([i], one=True)}",
        ]
        lines += remember(slot, f"unique(errs, rn, {i}, v{i}, m)")
        slot += 1
    if program.pk:
        one = len(program.pk) == 1
        lines += [
            f"# primary key {[program.names[j] for j in program.pk]!r}",
            f"k = {cells(program.pk, one)}",
            "if k is None:" if one else "if None in k:",
            "    ERR.primary_key(errs, rn, k)",
            "    bad = True",
            "else:",
        ]
        lines += remember(slot, "primary_key(errs, rn, k, m)")
        slot += 1
    for n, indexes in enumerate(program.ukeys):
        lines += [f"# unique key {n + 1}", f"k = {cells(indexes)}", "if None not in k:"]
        lines += remember(slot, f"unique_key(errs, rn, {n}, k, m)")
        slot += 1
    for n, (local, _, _, own) in enumerate(program.fks):
        lines += [
            f"# foreign key {n + 1}",
            f"k = {cells(local)}",
            f"if k != {(None,) * len(local)!r}:",
            f"    fk_rows.append((rn, {n}, k))",
        ]
        if own is not None:  # a self-reference: this batch's own keys count
            lines += [f"k = {cells(own)}", f"if k != {(None,) * len(own)!r}:", f"    l{n}.add(k)"]
    return lines
