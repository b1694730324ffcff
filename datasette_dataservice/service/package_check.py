"""Reading a Data Package zip: its descriptor checked and planned, then every row validated.

Pure of the catalog: nothing here creates anything, so a package can be refused whole, with
a frictionless-style package report (``tasks``: one per resource), before an app exists.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ..errors import DataServiceError
from ..schema import json_text
from ..schema.cast import make_error
from ..schema.descriptor import check_descriptor
from ..schema.names import MAX_NAME_LENGTH, datatable_name_problem
from ..schema.readers import ReadError, read_rows
from ..schema.references import reference_problems
from ..schema.rows import compile_validator
from .datatables import JSONB_RESERVED_FIELDS
from .inputs import MAX_TEXT

PACKAGE_FILE = "datapackage.json"
CHUNK_BYTES = 1 << 16
MAX_ENTRIES = 10_000
MAX_RESOURCES = 1_000
MAX_REPORTED_ERRORS = 1_000
BATCH_ROWS = 10_000
UTF8 = {"utf-8", "utf8", "utf-8-sig"}


@dataclass
class PackageResource:
    name: str  # in the package
    datatable: str  # the datatable it becomes
    member: str  # its data file in the zip
    format: str  # csv or tsv
    schema: dict[str, Any]  # foreign keys name datatables ("" for the table itself)
    description: str = ""
    position: int = 0  # in the package's "resources"
    depends: set[str] = field(default_factory=set)  # datatables its foreign keys point at
    rows: int = 0


def package_report(errors: list[dict], tasks: list[dict] | None = None) -> dict[str, Any]:
    tasks = tasks or []
    count = len(errors) + sum(task["stats"]["errors"] for task in tasks)
    return {
        "valid": count == 0,
        "stats": {"tasks": len(tasks), "errors": count},
        "errors": errors,
        "tasks": tasks,
    }


def refuse(messages: list[str], error_type: str = "package-error", status: int = 400):
    errors = [make_error(error_type, note=message) for message in messages]
    raise DataServiceError(
        [f"invalid data package: {m}" for m in messages],
        status=status,
        report=package_report(errors),
    )


def check_members(archive: zipfile.ZipFile, max_bytes: int | None) -> None:
    """Refuse entries that could escape a directory (zip slip) and zip bombs."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        refuse([f"the zip has {len(infos)} entries; at most {MAX_ENTRIES} are allowed"])
    unsafe = [info.filename for info in infos if not safe_path(info.filename)]
    if unsafe:
        refuse([f'zip entry "{name}" is an absolute path or leaves the package' for name in unsafe])
    total = sum(info.file_size for info in infos)
    if max_bytes is not None and total > max_bytes:
        refuse([f"the zip holds {total} bytes uncompressed; at most {max_bytes}"], status=413)


def safe_path(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return bool(path) and not (
        path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or ".." in parts
    )


def read_descriptor(archive: zipfile.ZipFile) -> tuple[dict[str, Any], str]:
    """The package descriptor and the folder it sits in (the root, or one top folder)."""
    names = set(archive.namelist())
    candidates = [PACKAGE_FILE] if PACKAGE_FILE in names else []
    candidates = candidates or [
        n for n in names if n.count("/") == 1 and n.endswith("/" + PACKAGE_FILE)
    ]
    if len(candidates) != 1:
        refuse([f"the zip must hold one {PACKAGE_FILE} at its root"])
    descriptor = _json_member(archive, candidates[0], PACKAGE_FILE)
    if not isinstance(descriptor, dict):
        refuse([f"{PACKAGE_FILE} must be a JSON object"])
    return descriptor, posixpath.dirname(candidates[0])


def _json_member(archive: zipfile.ZipFile, member: str, what: str) -> Any:
    try:
        return json_text.loads(archive.read(member).decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        refuse([f"{what} is not valid JSON: {e}"])


def datatable_name_for(resource: dict[str, Any]) -> str:
    """Our own exports name the datatable; otherwise the resource name, made a valid name."""
    own = (resource.get("dataservice") or {}) if isinstance(resource, dict) else {}
    wanted = own.get("datatable") if isinstance(own, dict) else None
    if isinstance(wanted, str) and datatable_name_problem(wanted) is None:
        return wanted
    name = re.sub(r"[^A-Za-z0-9_]+", "_", str(resource.get("name") or "")).strip("_")
    if not name or not name[0].isalpha() or name.lower().startswith("sqlite_"):
        name = f"t_{name}"
    return name[:MAX_NAME_LENGTH]


def plan_resources(
    archive: zipfile.ZipFile, descriptor: dict[str, Any], base: str, provider_type: str
) -> list[PackageResource]:
    """Every resource checked (all problems reported at once), in creation order."""
    problems: list[str] = []
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources:
        refuse(['"resources" must be a non-empty list'])
    if len(resources) > MAX_RESOURCES:
        refuse([f"a package may have at most {MAX_RESOURCES} resources"])
    planned: dict[str, PackageResource] = {}
    taken: set[str] = set()
    members = set(archive.namelist())
    for i, raw in enumerate(resources):
        resource = _plan_one(archive, raw, i, base, members, provider_type, problems)
        if resource is None:
            continue
        if resource.name in planned:
            problems.append(f'resource name "{resource.name}" is used twice')
            continue
        name, n = resource.datatable, 2
        while name.lower() in taken:
            suffix = f"_{n}"
            name, n = resource.datatable[: MAX_NAME_LENGTH - len(suffix)] + suffix, n + 1
        resource.datatable = name
        taken.add(name.lower())
        planned[resource.name] = resource
    if not problems:
        _link_foreign_keys(planned, problems)
    if problems:
        refuse(problems)
    return _creation_order(list(planned.values()))


def _plan_one(archive, raw, i, base, members, provider_type, problems) -> PackageResource | None:
    where = f"resources[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        problems.append(f'{where} must be an object with a "name"')
        return None
    name = raw["name"]
    where = f'resource "{name}"'
    before = len(problems)
    path = raw.get("path")
    if isinstance(path, list) and len(path) == 1:
        path = path[0]
    member = ""
    if "data" in raw and path is None:
        problems.append(f"{where}: inline data is not supported; put its rows in a CSV file")
    elif not isinstance(path, str) or not path:
        problems.append(f'{where}: "path" must name one CSV file in the zip')
    elif "://" in path or not safe_path(path):
        problems.append(f'{where}: path "{path}" must be a relative path inside the zip')
    else:
        member = posixpath.normpath(posixpath.join(base, path))
        if member not in members:
            problems.append(f'{where}: data file "{path}" is not in the zip')
    fmt = str(raw.get("format") or posixpath.splitext(str(path or ""))[1].lstrip(".")).lower()
    dialect = raw.get("dialect") or {}
    if not isinstance(dialect, dict):
        problems.append(f'{where}: "dialect" must be an object')
        dialect = {}
    if isinstance(dialect.get("csv"), dict):  # frictionless-py's nested form
        dialect = {**dialect, **dialect["csv"]}
    delimiter = dialect.get("delimiter", "\t" if fmt == "tsv" else ",")
    if fmt in ("csv", "tsv") and delimiter in (",", "\t"):
        fmt = "tsv" if delimiter == "\t" else "csv"
    else:
        problems.append(f"{where}: only CSV (or TSV) resources can be imported")
    if dialect.get("header") is False or dialect.get("quoteChar", '"') != '"':
        problems.append(f'{where}: the CSV needs a header row and " as its quote character')
    if str(raw.get("encoding") or "utf-8").lower() not in UTF8:
        problems.append(f"{where}: only UTF-8 data can be imported")
    schema = raw.get("schema")
    if isinstance(schema, str) and safe_path(schema) and "://" not in schema:
        schema_member = posixpath.normpath(posixpath.join(base, schema))
        schema = _json_member(archive, schema_member, schema) if schema_member in members else None
    if not isinstance(schema, dict):
        problems.append(f"{where}: needs a Table Schema (inline, or a JSON file in the zip)")
    else:
        problems += [f"{where}: schema: {p}" for p in check_descriptor(schema)]
        if provider_type == "jsonb":
            problems += [
                f'{where}: field "{f["name"]}" is reserved by the jsonb provider'
                for f in schema.get("fields") or []
                if isinstance(f, dict) and f.get("name") in JSONB_RESERVED_FIELDS
            ]
    description = raw.get("description") or raw.get("title") or ""
    if not isinstance(description, str) or len(description) > MAX_TEXT["description"]:
        problems.append(f'{where}: "description" must be text of at most 5000 characters')
    if len(problems) > before:
        return None
    schema = json.loads(json.dumps(schema))  # our own copy, its foreign keys rewritten later
    return PackageResource(name, datatable_name_for(raw), member, fmt, schema, description, i)


def _link_foreign_keys(planned: dict[str, PackageResource], problems: list[str]) -> None:
    """Point foreign keys at datatable names (a reference to the resource itself becomes "")
    and check that each references a key of the same types."""
    for resource in planned.values():
        for i, fk in enumerate(resource.schema.get("foreignKeys") or []):
            reference = fk["reference"]
            target_name = reference.get("resource") or ""
            if target_name in ("", resource.name):
                reference["resource"] = ""
            elif target_name in planned:
                reference["resource"] = planned[target_name].datatable
                resource.depends.add(planned[target_name].datatable)
            else:
                problems.append(
                    f'resource "{resource.name}": foreignKeys[{i}] references resource '
                    f'"{target_name}", which is not in the package'
                )
    if problems:
        return
    by_datatable = {r.datatable.lower(): r.schema for r in planned.values()}
    for resource in planned.values():
        problems += [
            f'resource "{resource.name}": {problem}'
            for problem in reference_problems(
                resource.schema, resource.datatable, lambda name: by_datatable.get(name.lower())
            )
        ]


def _creation_order(resources: list[PackageResource]) -> list[PackageResource]:
    """Referenced resources first (package order otherwise); a cycle is refused."""
    ordered: list[PackageResource] = []
    done: set[str] = set()
    pending = list(resources)
    while pending:
        ready = [r for r in pending if r.depends <= done]
        if not ready:
            names = ", ".join(f'"{r.name}"' for r in pending)
            refuse(
                [
                    f"the foreign keys between resources {names} form a cycle; tables are "
                    "created referenced-first, so a package cannot have cycles"
                ]
            )
        ordered += ready
        done |= {r.datatable for r in ready}
        pending = [r for r in pending if r.datatable not in done]
    return ordered


def member_chunks(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    with archive.open(member) as data:
        while chunk := data.read(CHUNK_BYTES):
            yield chunk


def validate_package_rows(archive: zipfile.ZipFile, resources: list[PackageResource]) -> dict:
    """Validate every row of every resource (in creation order), as the imports will, plus
    what one import batch alone cannot see: keys unique across batches and foreign keys to
    rows of other resources or of later batches. Blocking: run it in a thread."""
    wanted = {
        (fk["reference"]["resource"] or r.datatable, _key(fk["reference"]["fields"]))
        for r in resources
        for fk in r.schema.get("foreignKeys") or []
    }
    keys: dict[tuple[str, tuple[str, ...]], set] = {w: set() for w in wanted}
    tasks = []
    for resource in resources:
        tasks.append(_validate_resource(archive, resource, keys))
    return package_report([], tasks)


def _key(fields: Any) -> tuple[str, ...]:
    return (fields,) if isinstance(fields, str) else tuple(fields)


def _validate_resource(archive, resource: PackageResource, keys: dict) -> dict[str, Any]:
    schema = resource.schema
    own = {k: v for k, v in keys.items() if k[0] == resource.datatable}
    task = {"name": resource.name, "type": "table", "place": resource.member, "valid": True}
    errors: list[dict] = []
    stats = {"rows": 0, "errors": 0, "invalid_rows": 0}
    self_reference = any(not fk["reference"]["resource"] for fk in schema.get("foreignKeys") or [])
    try:
        if self_reference:
            # A self reference may point at a row of any batch: collect the keys first.
            plain = compile_validator({**schema, "foreignKeys": []})
            for _, result in _batches(archive, resource, plain, None):
                _collect(own, result.rows)
        validator = compile_validator(schema)

        def lookup(name: str, fields: tuple[str, ...]) -> set | None:
            return keys.get((name or resource.datatable, tuple(fields)))

        seen: dict[tuple, dict] = {}
        for first, result in _batches(archive, resource, validator, lookup):
            batch_errors = [e for e in result.errors if first or e["rowNumber"] is not None]
            batch_errors += _clashes(validator, seen, result)
            invalid = {e["rowNumber"] for e in batch_errors if e["rowNumber"] is not None}
            stats["rows"] += result.row_count
            stats["invalid_rows"] += len(invalid)
            stats["errors"] += len(batch_errors)
            errors += batch_errors[: max(MAX_REPORTED_ERRORS - len(errors), 0)]
            if not self_reference:
                _collect(own, result.rows)
    except ReadError as error:
        errors.append(make_error("source-error", note=str(error)))
        stats["errors"] += 1
    resource.rows = stats["rows"]
    return {**task, "valid": not stats["errors"], "stats": stats, "errors": errors}


def _batches(archive, resource: PackageResource, validator, lookup):
    rows = read_rows(member_chunks(archive, resource.member), resource.format)
    header = next(rows, None)
    if header is None:
        raise ReadError("the data file is empty: a header row is needed")
    number, first = 2, True
    while batch := list(islice(rows, BATCH_ROWS)):
        yield (
            first,
            validator.validate_table(header, batch, first_row_number=number, foreign_keys=lookup),
        )
        number, first = number + len(batch), False


def _collect(own: dict, rows: list[dict]) -> None:
    for (_, fields), found in own.items():
        for row in rows:
            key = tuple(row.get(f) for f in fields)
            if key.count(None) < len(key):
                found.add(key)


def _clashes(validator, seen: dict[tuple, dict], result) -> list[dict]:
    """primary-key and unique-error for values already seen in an earlier batch."""
    errors = []
    for columns, values in result.seen.items():
        earlier = seen.setdefault(columns, {})
        for value, number in values.items():
            if value in earlier:
                note = f"the same as in the row at position {earlier[value]}"
                if list(columns) == validator.primary_key:
                    errors.append(make_error("primary-key", number, note))
                else:
                    position = validator.fields.index(columns[0]) + 1
                    cell = ", ".join(map(str, value)) if isinstance(value, tuple) else value
                    name = ", ".join(columns)
                    errors.append(make_error("unique-error", number, note, cell, name, position))
            else:
                earlier[value] = number
    return errors
