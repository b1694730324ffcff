"""Check a Frictionless Table Schema descriptor (v1 or v2) and explain every problem.

Frictionless' own validation, reworded and located, plus the semantic checks it skips.
Pure: no I/O, no network. Frictionless only ever gets dicts (it opens a string as a path
or URL) and validates against its built-in profile; `$schema` only selects v1 or v2 rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import frictionless.fields
from frictionless import Field, Schema, system

from .patterns import pattern_problem

V2_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
CONSTRAINTS = ("required", "unique", "pattern", "enum", "minLength", "maxLength", *BOUNDS)
FIELD_TYPES = sorted(
    vars(cls)["type"]
    for cls in vars(frictionless.fields).values()
    if isinstance(cls, type) and isinstance(vars(cls).get("type"), str)
)
# Frictionless field notes that the checks below already report, better located.
_COVERED = re.compile(
    r"^'name' is a required property$|at property '(name|type|missingValues)'$"
    r'|^field type ".*" is not supported$|should be set as "constraints\.'
    r'|^constraint ".*" is not supported by type'
)
_TYPE_WORDS = {"array": "a list", "object": "an object", "integer": "an integer"}
_AT = r" at property '(?P<p>.+)'"
_USE_V2 = f'set "$schema" to "{V2_PROFILE}"'
# frictionless (jsonschema) note -> readable template; {p} is a path, {v} the value there
_REWRITES = {
    r"(?P<v>.+) is not of type '(?P<k>\w+)'" + _AT: '"{p}" must be {k}, not {v}',
    r"(?P<v>.+) is not one of (?P<o>\[.*\])" + _AT: '"{p}" must be one of {o}, not {v}',
    r"(?P<v>.+) does not match '(?P<t>.+)'" + _AT: '"{p}" must match {t}, not {v}',
    r"(?P<v>.+) is not valid under any of the given schemas" + _AT: '"{p}" is not valid: {v}',
    r"'(?P<p>\w+)' is a required property": '"{p}" is required',
    r'constraint "(?P<p>\w+)" requires datapackage v2': f'"constraints.{{p}}" needs v2: {_USE_V2}',
    r"missing values in object form require datapackage v2": (
        f'"missingValues" objects need v2: use plain strings, or {_USE_V2}'
    ),
    r'(?P<p>example) value "(?P<v>.*)" for field ".*" is not valid': (
        '"{p}" value {v} does not match the field type and format'
    ),
}


def check_descriptor(descriptor: object) -> list[str]:
    """Every problem with a Frictionless Table Schema descriptor, as messages a user can
    act on; [] if valid."""
    if not isinstance(descriptor, dict):
        return [f'a schema must be a JSON object like {{"fields": [...]}}, not {_show(descriptor)}']
    problems: list[str] = []
    profile = descriptor.get("$schema")
    if "$schema" in descriptor and not isinstance(profile, str):
        problems.append(f'"$schema" must be a profile URL such as "{V2_PROFILE}"')
        profile = None
    fields = descriptor.get("fields")
    if "fields" not in descriptor:
        problems.append('"fields" is missing: add a list of fields like [{"name": "id"}]')
    elif not isinstance(fields, list):
        problems.append(f'"fields" must be a list of field objects, not {_show(fields)}')
    elif not fields:
        problems.append('"fields" is empty: a datatable needs at least one field')
    fields = fields if isinstance(fields, list) else []
    problems += _check_missing_values(descriptor)
    names = _check_names(fields, problems)
    for index, field in enumerate(fields):
        if isinstance(field, dict):
            problems += [f"{_where(index, field)}: {p}" for p in _check_field(field)]
    problems += _check_keys(descriptor, names if fields else None)  # no fields: no names
    problems += _frictionless_problems(descriptor, fields, profile)
    return list(dict.fromkeys(problems))


def _check_names(fields: list[Any], problems: list[str]) -> list[str]:
    """Append problems with field objects and their names; return the usable names."""
    names: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    for index, field in enumerate(fields):
        name = _get(field, "name")
        if not isinstance(field, dict):
            example = '{"name": "id", "type": "integer"}'
            problems.append(f"fields[{index}] must be an object like {example}, not {_show(field)}")
        elif "name" not in field:
            problems.append(f'fields[{index}]: "name" is missing; every field needs a name')
        elif not isinstance(name, str) or not name.strip():
            problems.append(
                f'fields[{index}]: "name" must be a non-empty string, not {_show(name)}'
            )
        else:
            first_index, first = seen.setdefault(name.casefold(), (index, name))
            if first_index != index:
                why = "" if first == name else ", as SQLite column names are case-insensitive"
                problems.append(
                    f'fields[{index}] ("{name}"): name "{name}" clashes with '
                    f'fields[{first_index}] ("{first}"){why}; rename one of them'
                )
            if name not in names:
                names.append(name)
    return names


def _check_field(field: dict[str, Any]) -> list[str]:
    """Problems with one field object, without the fields[i] prefix."""
    misplaced = [(key, _show(field[key])) for key in CONSTRAINTS if key in field]
    problems = [f'"{k}" must go inside "constraints": {{"{k}": {v}}}' for k, v in misplaced]
    problems += _check_missing_values(field)
    type_name = field.get("type", "string")
    cls = system.select_field_class(type_name) if type_name in FIELD_TYPES else None
    if cls is None:
        types = ", ".join(FIELD_TYPES)
        problems.append(f"field type {_show(type_name)} is not supported; use one of: {types}")
    constraints = field.get("constraints", {})
    if not isinstance(constraints, dict):
        return problems  # frictionless reports it
    if isinstance(pattern := constraints.get("pattern"), str):
        if (reason := pattern_problem(pattern)) is not None:
            problems.append(
                f'"constraints.pattern" is not a valid regular expression ({reason}); '
                "Table Schema patterns are XML Schema regular expressions, without "
                "backreferences or lookaround"
            )
    lengths = {k: constraints.get(k) for k in ("minLength", "maxLength")}
    lengths = {k: v for k, v in lengths.items() if type(v) is int}
    problems += [
        f'"constraints.{k}" must be 0 or more, not {v}' for k, v in lengths.items() if v < 0
    ]
    if len(lengths) == 2 and lengths["minLength"] > lengths["maxLength"]:
        problems.append(_order_problem("minLength", "maxLength", constraints, strict=False))
    enum = constraints.get("enum")
    if enum == []:
        problems.append('"constraints.enum" is empty: list at least one allowed value')
    if cls is None:
        return problems
    supported = [*cls.supported_constraints, "unique"]
    problems += [
        f'constraint "{key}" does not apply to type "{cls.type}"; remove it '
        f"(allowed: {', '.join(supported)})"
        for key in constraints
        if key not in supported
    ]
    format_ = field.get("format", "default")
    if not isinstance(format_, str):
        return problems  # frictionless reports it
    read = _value_reader(field)
    label = cls.type + (f' (format "{format_}")' if format_ != "default" else "")
    bounds = {k: read(constraints[k]) for k in BOUNDS if k in constraints and k in supported}
    problems += [
        f'"constraints.{k}": {_show(constraints[k])} is not a valid {label} value'
        for k, value in bounds.items()
        if value is None
    ]
    for low in ("minimum", "exclusiveMinimum"):
        for high in ("maximum", "exclusiveMaximum"):
            strict = "exclusive" in low + high
            try:
                empty = bounds[low] > bounds[high] or (strict and bounds[low] == bounds[high])
            except (KeyError, TypeError):  # absent, unreadable (None) or incomparable
                empty = False
            if empty:
                problems.append(_order_problem(low, high, constraints, strict=strict))
    if isinstance(enum, list) and "enum" in supported:
        problems += [
            f'"constraints.enum[{i}]": {_show(value)} is not a valid {label} value'
            for i, value in enumerate(enum)
            if read(value) is None
        ]
    return problems


def _check_missing_values(owner: dict[str, Any]) -> list[str]:
    values = owner.get("missingValues", [])
    hint = 'a list of strings like ["", "NA"]'
    if not isinstance(values, list):
        return [f'"missingValues" must be {hint}, not {_show(values)}']
    labelled = '{"value": "NA", "label": "not available"}'
    problems = [
        f'"missingValues[{i}]" must be a string (or, in v2, an object like {labelled}), '
        f"not {_show(value)}"
        for i, value in enumerate(values)
        if not isinstance(value, str) and not isinstance(_get(value, "value"), str)
    ]
    if not problems and len({isinstance(value, str) for value in values}) > 1:
        problems.append(f'"missingValues" must not mix strings and objects; use {hint}')
    return problems


def _check_keys(descriptor: dict[str, Any], names: list[str] | None) -> list[str]:
    """primaryKey, uniqueKeys and foreignKeys: their shape, and that they name real fields."""
    problems: list[str] = []
    if "primaryKey" in descriptor:
        problems += _key_problems('"primaryKey"', descriptor["primaryKey"], names, empty_ok=True)
    unique_keys = descriptor.get("uniqueKeys", [])
    if not isinstance(unique_keys, list):
        problems.append(
            f'"uniqueKeys" must be a list of field name lists like [["email"]], '
            f"not {_show(unique_keys)}"
        )
        unique_keys = []
    for i, key in enumerate(unique_keys):
        where = f'"uniqueKeys[{i}]"'
        if isinstance(key, list):
            problems += _key_problems(where, key, names)
        else:
            problems.append(f"{where} must be a list of field names, not {_show(key)}")
    foreign_keys = descriptor.get("foreignKeys", [])
    if not isinstance(foreign_keys, list):
        problems.append(f'"foreignKeys" must be a list of objects, not {_show(foreign_keys)}')
        foreign_keys = []
    for i, fk in enumerate(foreign_keys):
        where = f"foreignKeys[{i}]"
        if not isinstance(fk, dict):
            problems.append(f'"{where}" must be an object with "fields" and "reference"')
            continue
        problems += _key_problems(f'"{where}.fields"', fk.get("fields"), names)
        ref = fk.get("reference")
        if not isinstance(ref, dict):
            example = '{"resource": "other_table", "fields": ["id"]}'
            problems.append(f'"{where}.reference" must be an object like {example}')
            continue
        resource = ref.get("resource", "")
        if not isinstance(resource, str):
            problems.append(f'"{where}.reference.resource" must be a table name, "" for this one')
        local, remote = _name_list(fk.get("fields")), _name_list(ref.get("fields"))
        if local is not None and remote is not None and len(local) != len(remote):
            problems.append(
                f'"{where}": "fields" has {len(local)} field(s) but "reference.fields" '
                f"has {len(remote)}; they must pair up one to one"
            )
        elif remote is None or resource == "":  # "": a self-reference, to this schema's fields
            known = names if resource == "" else None
            problems += _key_problems(f'"{where}.reference.fields"', ref.get("fields"), known)
    return problems


def _key_problems(
    where: str, value: Any, names: list[str] | None, empty_ok: bool = False
) -> list[str]:
    """Problems with a field name or list of names; with names, also names that don't exist."""
    refs = _name_list(value, empty_ok)
    if refs is None:
        return [f"{where} must be a field name or a list of field names, not {_show(value)}"]
    known = ", ".join(f'"{name}"' for name in names or []) or "none"
    return [
        f'{where} names field "{ref}", which does not exist (fields: {known})'
        for ref in refs
        if names is not None and ref not in names
    ]


def _frictionless_problems(
    descriptor: dict[str, Any], fields: list[Any], profile: str | None
) -> list[str]:
    """Frictionless' own notes, located and reworded (keys and names are checked above)."""
    version = {"$schema": profile} if profile else {}
    skip = ("$schema", "fields", "primaryKey", "foreignKeys", "uniqueKeys")
    top = {k: v for k, v in descriptor.items() if k not in skip}
    notes = _notes({**top, **version, "fields": []}, "schema-error")
    problems = [_reword(note, descriptor) for note in notes if "'missingValues'" not in note]
    for index, field in enumerate(fields):
        if isinstance(field, dict):  # one field at a time, so that each note can be located
            notes = _notes({**version, "fields": [field]}, "field-error")
            where = _where(index, field)
            problems += [f"{where}: {_reword(n, field)}" for n in notes if not _COVERED.search(n)]
    return problems


def _notes(descriptor: dict[str, Any], error_type: str) -> list[str]:
    try:
        report = Schema.validate_descriptor(descriptor)
    except Exception as error:  # frictionless may crash on odd input
        return [f"frictionless could not check this part ({error})"]
    return [error.note for error in report.errors if error.type == error_type]


def _reword(note: str, owner: dict[str, Any]) -> str:
    for pattern, template in _REWRITES.items():
        match = re.fullmatch(pattern, note)
        if match:
            parts = match.groupdict()
            if "p" in parts:  # show the value as the user wrote it (JSON, not Python)
                path = parts["p"].split("/")
                parts["v"] = _lookup(owner, path, parts.get("v"))
                parts["p"] = ".".join(path)
            if "k" in parts:  # a JSON type
                parts["k"] = _TYPE_WORDS.get(parts["k"], f"a {parts['k']}")
            if "o" in parts:  # a Python list of options
                parts["o"] = parts["o"].replace("'", '"')
            return template.format(**parts)
    return note


def _lookup(owner: Any, path: list[str], default: str | None) -> str | None:
    """The value at a frictionless property path, as JSON; default if not found."""
    for step in path:
        try:
            owner = owner[int(step) if isinstance(owner, list) else step]
        except (KeyError, IndexError, ValueError, TypeError):
            return default
    return _show(owner)


def _value_reader(field: dict[str, Any]) -> Callable[[Any], Any]:
    """How frictionless reads this field's constraint values: the value, or None if invalid."""
    options = {k: v for k, v in field.items() if k not in (*CONSTRAINTS, "constraints", "example")}
    try:
        reader = Field.from_descriptor({**options, "name": "field"}, allow_invalid=True)
        read = reader.create_value_reader()
    except Exception:  # an invalid option; frictionless reports it
        return lambda value: value

    def safe_read(value: Any) -> Any:
        try:
            return read(value)
        except Exception:
            return None

    return safe_read


def _order_problem(low: str, high: str, constraints: dict[str, Any], strict: bool) -> str:
    relation = "less than" if strict else "at most"
    low_value, high_value = _show(constraints[low]), _show(constraints[high])
    return (
        f'"constraints.{low}" ({low_value}) must be {relation} "constraints.{high}" '
        f"({high_value}): no value can satisfy both"
    )


def _name_list(value: Any, empty_ok: bool = False) -> list[str] | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not (names or empty_ok):
        return None
    return names if all(isinstance(name, str) for name in names) else None


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _where(index: int, field: dict[str, Any]) -> str:
    name = field.get("name")
    return f'fields[{index}] ("{name}")' if isinstance(name, str) and name else f"fields[{index}]"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
