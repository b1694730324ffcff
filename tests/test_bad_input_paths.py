"""Bad input on every write path, both engines, both providers: a 4xx that says what to fix,
and nothing written (ISSUE 13, item 3).

The inputs: a lone surrogate in a text field, JSON nested 100,000 deep, an integer beyond
64 bits in an integer field, and "NaN", "INF", "-INF" as numbers (refused on both engines:
JSON has no such numbers, and SQLite would store NaN as NULL). The paths: Datasette's own
``/-/insert``, ``/-/upsert`` and ``/-/update``, the data service's ``validate`` and
``import`` in every format, the Data Package import and the control plane. Row values a
schema cannot hold get a per-row, per-field report; text that is not JSON (or not UTF-8)
is refused as such.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from conftest import RUN_PREFIX, _schema_numbers, close_data_service
from datasette import handle_exception as datasette_errors
from test_contract import COMBINATIONS, ROWS, SCHEMA, Service, path_of, start_service

pytestmark = pytest.mark.asyncio(loop_scope="module")

BIG = 99999999999999999999999
DEEP = 100_000
TABLE = "/-/apps/shop/datasources/main/datatables/items"


@pytest.fixture(scope="module", autouse=True)
def quiet_errors():
    """No rich tracebacks for refused requests (a 500 still fails its assertion)."""
    saved, datasette_errors.rich = datasette_errors.rich, None
    yield
    datasette_errors.rich = saved


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=COMBINATIONS,
    ids=["-".join(c) for c in COMBINATIONS],
)
async def service(request, tmp_path_factory):
    """One stocked service per combination, shared by its tests (refusals change nothing);
    only the Postgres ones need the Postgres server."""
    provider, engine = request.param
    config = {}
    if engine == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        prefix = f"{RUN_PREFIX}badpath{next(_schema_numbers)}_"
        config = {"main": {"dsn": dsn, "schema_prefix": prefix}}
    started = await start_service(tmp_path_factory.mktemp(provider), provider, engine, config)
    assert (await started.insert(ROWS)).status_code == 201
    yield started
    await close_data_service(started.ds)


def refused(response, what: str) -> dict:
    """A 4xx in Datasette's error shape, its errors saying something."""
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:800])
    body = response.json()
    assert body["ok"] is False and body["status"] == response.status_code, (what, body)
    assert body["errors"] and all(isinstance(e, str) and e.strip() for e in body["errors"])
    assert body["error"] == "; ".join(body["errors"]), (what, body)
    return body


def row_errors(report: dict) -> list[tuple]:
    return [(e["type"], e["rowNumber"], e["fieldName"]) for e in report["errors"]]


async def stored(service: Service) -> list[dict]:
    return await service.rows("&_size=max")


def deep_array(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


# -- The bad inputs --------------------------------------------------------------------------
#
# Each is a row as JSON text (so that escapes and nesting survive) and as a CSV line, each with
# the per-row, per-field error the row validator reports, or None where the text itself is
# refused (not JSON, not UTF-8) before there are rows.


@dataclass
class Bad:
    json_row: str  # one row object as JSON text
    csv_line: bytes  # the same row as a CSV line under CSV_HEADER
    json_error: tuple[str, str] | None  # (error type, field name) in the row report
    csv_error: tuple[str, str] | None


CSV_HEADER = b"id,name,price,active,tags,born,seen\n"
JSON_CELL = ("type-error", "tags")  # a CSV cell is text: not JSON is an error of its row


def _row(**cells: str) -> str:
    values = {"id": "6", "name": '"Fay"', **cells}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"


def _number(field: str, text: str) -> Bad:
    line = f"{BIG},Fay,,,,,\n" if field == "id" else f"6,Fay,{text},,,,\n"
    return Bad(_row(**{field: text if field == "id" else f'"{text}"'}), line.encode(),
               ("type-error", field), ("type-error", field))  # fmt: skip


BAD = {
    "surrogate": Bad(_row(name='"\\ud800"'), b"6,\xed\xa0\x80,,,,,\n", None, None),
    "surrogate_in_json": Bad(
        _row(tags='["\\ud800"]'), b'6,Fay,,,"[""\\ud800""]",,\n', None, JSON_CELL
    ),
    "deep": Bad(_row(tags=deep_array()), f'6,Fay,,,"{deep_array()}",,\n'.encode(), None, JSON_CELL),
    "big_integer": _number("id", str(BIG)),
    "nan": _number("price", "NaN"),
    "inf": _number("price", "INF"),
    "-inf": _number("price", "-INF"),
    # 1e400 is JSON text no float holds: refused as such, or as a number no engine stores
    "huge_number": Bad(_row(price="1e400"), b"6,Fay,1e400,,,,\n", None, ("type-error", "price")),
}


def _body(service: Service, key: str, bad: Bad) -> str:
    row = bad.json_row
    if key == "rows":
        row = f'{{"data": {row}}}' if service.provider == "jsonb" else row
        return f'{{"rows": [{row}]}}'
    if key == "upsert":  # the stored row 2, by its key
        named = '"_id": 2, ' if service.provider == "jsonb" else ""
        row = "{" + named + row[1:].replace('"id": 6', '"id": 2', 1)
        return f'{{"rows": [{row}]}}'
    return f'{{"update": {row}}}'


async def _post(service: Service, path: str, body: str | bytes, content_type: str):
    headers = {**service.headers, "Content-Type": content_type}
    return await service.ds.client.post(path, content=body, headers=headers)


def _csv(bad: Bad, tab: bool = False) -> bytes:
    text = CSV_HEADER + bad.csv_line
    return text.replace(b",", b"\t") if tab else text


PATHS: dict[str, Callable] = {
    "insert": lambda s, bad: _post(s, path_of(s.datatable["insert_url"]), _body(s, "rows", bad),
                                   "application/json"),
    "upsert": lambda s, bad: _post(s, path_of(s.datatable["insert_url"]).replace(
        "/-/insert", "/-/upsert"), _body(s, "upsert", bad), "application/json"),
    "update": lambda s, bad: _post(s, f"{s.table_path}/2/-/update", _body(s, "update", bad),
                                   "application/json"),
    "import-json": lambda s, bad: _post(s, TABLE + "/import?format=json",
                                        f"[{bad.json_row}]", "application/json"),
    "import-ndjson": lambda s, bad: _post(s, TABLE + "/import?format=ndjson",
                                          bad.json_row + "\n", "application/x-ndjson"),
    "import-csv": lambda s, bad: _post(s, TABLE + "/import", _csv(bad), "text/csv"),
    "import-tsv": lambda s, bad: _post(s, TABLE + "/import", _csv(bad, tab=True),
                                       "text/tab-separated-values"),
}  # fmt: skip


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("kind", list(BAD))
async def test_bad_rows_are_refused_on_every_write_path(service, kind, path):
    bad = BAD[kind]
    before = await stored(service)
    response = await PATHS[path](service, bad)
    body = refused(response, f"{kind} {path}")
    table = path in ("import-csv", "import-tsv")
    expected = bad.csv_error if table else bad.json_error
    if expected is not None:
        error_type, field = expected
        assert (error_type, 2 if table else 1, field) in row_errors(body["report"]), body
    assert await stored(service) == before


@pytest.mark.parametrize("kind", list(BAD))
async def test_validate_reports_what_a_write_would_refuse(service, kind):
    """``validate`` answers for the rows it is given (200, ``valid: false``, the report);
    text that is not JSON or not UTF-8 is refused."""
    bad = BAD[kind]
    uploads = [
        (f'{{"rows": [{bad.json_row}]}}', "application/json", bad.json_error, 1),
        (_csv(bad), "text/csv", bad.csv_error, 2),
    ]
    for body, content_type, expected, row_number in uploads:
        response = await _post(service, TABLE + "/validate", body, content_type)
        if expected is None:
            refused(response, f"{kind} {content_type}")
            continue
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["valid"] is False
        assert (expected[0], row_number, expected[1]) in row_errors(answer["report"]), answer


# -- Data Package import --------------------------------------------------------------------

PACKAGE_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "price", "type": "number"},
        {"name": "tags", "type": "array"},
    ],
    "primaryKey": ["id"],
}


def _package(descriptor: str | None = None, csv: bytes = b"id,name,price,tags\n1,a,1.5,[]\n"):
    if descriptor is None:
        resource = {"name": "items", "path": "items.csv", "schema": PACKAGE_SCHEMA}
        descriptor = json.dumps({"name": "pkg", "resources": [resource]})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("datapackage.json", descriptor)
        archive.writestr("items.csv", csv)
    return buffer.getvalue()


def _described(**extra: str) -> str:
    resource = json.dumps({"name": "items", "path": "items.csv", "schema": PACKAGE_SCHEMA})
    return (
        '{"name": "pkg", '
        + "".join(f'"{k}": {v}, ' for k, v in extra.items())
        + (f'"resources": [{resource}]}}')
    )


PACKAGES = {
    "surrogate_in_descriptor": (_package(_described(title='"\\ud800"')), None),
    "deep_descriptor": (_package(_described(extra=deep_array())), None),
    "surrogate_in_csv": (_package(csv=b"id,name,price,tags\n1,\xed\xa0\x80,1,[]\n"), None),
    "surrogate_in_json_cell": (
        _package(csv=b'id,name,price,tags\n1,a,1,"[""\\ud800""]"\n'),
        ("type-error", "tags"),
    ),
    "deep_json_cell": (
        _package(csv=f'id,name,price,tags\n1,a,1,"{deep_array()}"\n'.encode()),
        ("type-error", "tags"),
    ),
    "big_integer": (
        _package(csv=f"id,name,price,tags\n{BIG},a,1,[]\n".encode()),
        ("type-error", "id"),
    ),
    "nan": (_package(csv=b"id,name,price,tags\n1,a,NaN,[]\n"), ("type-error", "price")),
    "inf": (_package(csv=b"id,name,price,tags\n1,a,INF,[]\n"), ("type-error", "price")),
    "-inf": (_package(csv=b"id,name,price,tags\n1,a,-INF,[]\n"), ("type-error", "price")),
}  # fmt: skip


async def _apps(service: Service) -> list[str]:
    response = await service.get("/-/apps.json?include_deleted=1&_size=max")
    return sorted(app["slug"] for app in response.json()["apps"])


@pytest.mark.parametrize("kind", list(PACKAGES))
async def test_data_package_import_refuses_bad_input_and_creates_nothing(service, kind):
    """The import creates a datasource on this instance's SQLite (it takes no engine)."""
    content, expected = PACKAGES[kind]
    before = await _apps(service)
    path = f"/-/apps/import?slug=pkg&provider_type={service.provider}"
    body = refused(await _post(service, path, content, "application/zip"), kind)
    if expected is not None:
        (task,) = body["report"]["tasks"]
        assert (expected[0], 2, expected[1]) in row_errors(task), body
    assert await _apps(service) == before


# -- Control plane --------------------------------------------------------------------------

SURROGATE_SCHEMA = json.dumps(SCHEMA).replace('"id"', '"\\ud800"', 1)
CONTROL = {
    "app name": ("/-/apps", '{"name": "x", "slug": "x", "description": "\\ud800"}'),
    "app deep": ("/-/apps", f'{{"name": "x", "description": {deep_array()}}}'),
    "datatable field name": (
        "/-/apps/shop/datasources/main/datatables",
        f'{{"name": "other", "json_schema": {SURROGATE_SCHEMA}}}',
    ),
    "datatable deep": (
        "/-/apps/shop/datasources/main/datatables",
        f'{{"name": "other", "json_schema": {deep_array()}}}',
    ),
    "schema change": (TABLE + "/schema/plan", f'{{"json_schema": {SURROGATE_SCHEMA}}}'),
    "datasource description": (
        "/-/apps/shop/datasources",
        '{"name": "other", "provider_type": "flat_table", "description": "\\ud800"}',
    ),
}


@pytest.mark.parametrize("case", list(CONTROL))
async def test_control_plane_refuses_bad_json_and_changes_nothing(service, case):
    path, body = CONTROL[case]
    apps, schema = await _apps(service), (await service.get(TABLE + ".json")).json()
    refused(await _post(service, path, body, "application/json"), case)
    assert await _apps(service) == apps
    after = (await service.get(TABLE + ".json")).json()
    assert after["schema_hash"] == schema["schema_hash"]
    tables = await service.get("/-/apps/shop/datasources/main/datatables.json")
    assert [t["name"] for t in tables.json()["datatables"]] == ["items"]


# -- Filters with integers beyond 64 bits -----------------------------------------------------

FILTERS = {
    f"id__gt={BIG}": [],
    f"id__lt={BIG}": [1, 2, 3, 4, 5],
    f"id__gte=-{BIG}": [1, 2, 3, 4, 5],
    f"id__lte=-{BIG}": [],
    "id__gt=" + "9" * 400: [],
    f"price__lt={BIG}": [1, 2, 4, 5],
}


@pytest.mark.parametrize("query", list(FILTERS))
async def test_filters_beyond_64_bits_match_as_on_postgres(service, query):
    """Core binds such a value as a Python int SQLite cannot hold (a 500); on a managed
    table it is compared as the number it is, as PostgreSQL compares it."""
    for suffix in (".json?_shape=objects&_size=max&", "?"):
        path = service.json_path.removesuffix(".json") + suffix + query
        response = await service.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    rows = await service.rows("&_size=max&" + query)
    assert [row["id"] for row in rows] == FILTERS[query]
