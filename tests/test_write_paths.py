"""Every row that reaches a managed table satisfies its Table Schema, through Datasette's own
write API, and a refusal says which row, which field and why, in the Frictionless vocabulary."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
import sqlite_utils
from conftest import (
    assert_error,
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
    path_of,
    postgres_config_for,
)
from datasette.database import Database
from datasette.plugins import pm

import datasette_dataservice

# jsonb rows go to the physical table as Datasette's {"data": {...}} or as the document itself
VARIANTS = ["flat_table", "jsonb", "jsonb-document"]
TEAMS = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "title", "type": "string"},
    ],
    "primaryKey": ["id"],
}
PEOPLE = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string", "constraints": {"required": True, "maxLength": 10}},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "code", "type": "string", "constraints": {"unique": True, "pattern": "[A-Z]{3}"}},
        {"name": "age", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "role", "type": "string", "constraints": {"enum": ["admin", "user"]}},
        {"name": "active", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "team", "type": "integer"},
        {"name": "manager", "type": "integer"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [
        {"fields": ["team"], "reference": {"resource": "teams", "fields": ["id"]}},
        {"fields": ["manager"], "reference": {"resource": "", "fields": ["id"]}},
    ],
}
NAMES = [f["name"] for f in PEOPLE["fields"]]
ADA = {"id": 1, "name": "Ada", "email": "ada@example.com", "code": "ADA", "age": 36, "team": 1}
PATH = "/-/apps/a/datasources/d/datatables/people"


def full(row: dict) -> dict:
    """A row as stored: every field of the schema, null where the row gave none."""
    return {**dict.fromkeys(NAMES), **row}


@dataclass
class People:
    ds: Any
    headers: dict
    datatable: dict
    as_data: bool

    @property
    def jsonb(self) -> bool:
        return self.datatable["provider_type"] == "jsonb"

    def wrap(self, row: dict) -> dict:
        """The row as the client sends it; ``_id`` is the jsonb physical key."""
        if not self.as_data:
            return row
        document = {k: v for k, v in row.items() if k != "_id"}
        return {"data": document, **({"id": row["_id"]} if "_id" in row else {})}

    def url(self, endpoint: str = "insert") -> str:
        return path_of(self.datatable["insert_url"]).replace("/-/insert", f"/-/{endpoint}")

    async def post(self, body: dict, endpoint: str = "insert", headers: dict | None = None):
        body = dict(body)
        if "row" in body:
            body["row"] = self.wrap(body["row"])
        if "rows" in body:
            body["rows"] = [self.wrap(row) for row in body["rows"]]
        headers = self.headers if headers is None else headers
        return await self.ds.client.post(self.url(endpoint), json=body, headers=headers)

    async def stored(self, with_ids: bool = False) -> list[dict]:
        url = path_of(self.datatable["json_url"]) + "?_shape=objects&_size=max"
        response = await self.ds.client.get(url, headers=self.headers)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        if not with_ids:
            rows = [{k: v for k, v in row.items() if k != "_id"} for row in rows]
        return sorted(rows, key=lambda row: row["id"])

    async def key(self, id_: int) -> dict:
        """The upsert key of the stored row whose ``id`` is ``id_``."""
        if not self.jsonb:
            return {"id": id_}
        (row,) = [r for r in await self.stored(with_ids=True) if r["id"] == id_]
        return {"_id": row["_id"]}

    async def update(self, id_: int, update: dict, **extra):
        pk = (await self.key(id_)).get("_id", id_)
        body = {"update": self.wrap(update), **extra}
        return await self.ds.client.post(self.row_url(pk), json=body, headers=self.headers)

    def row_url(self, pk) -> str:
        return self.url().replace("/-/insert", f"/{pk}/-/update")


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def engine_ds(request, tmp_path):
    """A Datasette whose datasources go on ``request.param``'s engine."""
    datasette = make_datasette(tmp_path / "data", postgres=postgres_config_for(request))
    datasette.test_engine = request.param
    await datasette.invoke_startup()
    yield datasette
    await close_data_service(datasette)


@pytest_asyncio.fixture(params=VARIANTS)
async def people(request, engine_ds):
    ds = engine_ds
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    provider = request.param.split("-")[0]
    await create_datasource(
        ds, root, "a", slug="d", provider_type=provider, provider_config={"engine": ds.test_engine}
    )
    teams = await create_datatable(ds, root, "a", "d", "teams", copy.deepcopy(TEAMS))
    datatable = await create_datatable(ds, root, "a", "d", "people", copy.deepcopy(PEOPLE))
    table = People(ds, root, teams, as_data=request.param == "jsonb")
    assert (await table.post({"rows": [{"id": 1, "title": "Core"}]})).status_code == 201
    table = People(ds, root, datatable, as_data=request.param == "jsonb")
    response = await table.post({"row": ADA})
    assert response.status_code == 201, response.json()
    return table


def report_of(response, rows: int, invalid: int = 1) -> dict:
    body = assert_error(response, 400)
    report = body["report"]
    assert report["valid"] is False
    assert report["stats"] == {
        "rows": rows,
        "errors": len(report["errors"]),
        "invalid_rows": invalid,
    }
    assert body["errors"] == [e["message"] for e in report["errors"]]
    return report


def assert_only_error(report, type_, row_number, field_name, note):
    (error,) = report["errors"]
    assert {"type", "rowNumber", "fieldName", "cell", "note", "message"} <= set(error)
    assert (error["type"], error["rowNumber"], error["fieldName"]) == (
        type_,
        row_number,
        field_name,
    ), error
    assert note in error["note"] and error["note"] in error["message"], error
    return error


@pytest.mark.asyncio
async def test_valid_rows_land_and_come_back_as_core_returns_them(people):
    rows = [
        {"id": 2, "name": "Alan", "code": "ALN", "manager": 1, "seen_at": "2024-10-30T12:00:00Z"},
        {"id": 3, "name": "Grace", "role": "admin", "born": "1906-12-09", "team": 1},
    ]
    response = await people.post({"rows": rows, "return": True})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"ok", "rows"} and body["ok"] is True
    if people.jsonb:  # the physical rows, as core reads them back: {"id", "data": "<json>"}
        assert [set(r) for r in body["rows"]] == [{"id", "data"}] * 2
        assert [json.loads(r["data"]) for r in body["rows"]] == [full(r) for r in rows]
    else:
        assert body["rows"] == [full(r) for r in rows]
    assert await people.stored() == [full(ADA)] + [full(r) for r in rows]
    quiet = await people.post({"rows": [{"id": 4, "name": "Edsger"}]})
    assert (quiet.status_code, quiet.json()) == (201, {"ok": True})
    single = await people.post({"row": {"id": 5, "name": "Barbara"}})
    assert single.status_code == 201 and len(single.json()["rows"]) == 1
    assert [r["id"] for r in await people.stored()] == [1, 2, 3, 4, 5]


@pytest.mark.asyncio
async def test_string_cells_are_cast_like_csv(people):
    row = {"id": "12", "name": "Bo", "age": "7", "active": "true", "born": "2024-02-29"}
    response = await people.post({"row": {**row, "seen_at": "2024-10-30T12:00:00Z"}})
    assert response.status_code == 201, response.json()
    (stored,) = [r for r in await people.stored() if r["id"] == 12]
    assert isinstance(stored["id"], int) and stored["age"] == 7
    assert stored["active"] in (True, 1) and stored["born"] == "2024-02-29"
    assert stored["seen_at"] == "2024-10-30T12:00:00Z"
    refused = await people.post({"row": {"id": "13", "name": "Bo", "active": "maybe"}})
    assert_only_error(report_of(refused, 1), "type-error", 1, "active", '"boolean')


@pytest.mark.asyncio
async def test_one_invalid_row_writes_nothing(people):
    rows = [{"id": 2, "name": "Alan"}, {"id": 3, "name": "Neg", "age": -1}, {"id": 4, "name": "X"}]
    report = report_of(await people.post({"rows": rows}), 3)
    error = assert_only_error(report, "constraint-error", 2, "age", 'constraint "minimum" is "0"')
    assert error["cell"] == -1
    assert await people.stored() == [full(ADA)]


GOOD = {"id": 2, "name": "Alan", "code": "ALN"}
# label: (bad row, error type, field, cell, words of the note)
ERRORS = {
    "text for integer": ({"age": "abc"}, "type-error", "age", "abc", 'type is "integer'),
    "float for integer": ({"age": 1.5}, "type-error", "age", 1.5, 'type is "integer'),
    "bool for integer": ({"age": True}, "type-error", "age", True, 'type is "integer'),
    "malformed email": ({"email": "nope"}, "type-error", "email", "nope", "string/email"),
    "bad datetime": ({"seen_at": "yesterday"}, "type-error", "seen_at", "yesterday", "datetime"),
    "impossible date": ({"born": "2023-02-29"}, "type-error", "born", "2023-02-29", "date"),
    "required missing": ({"name": None}, "constraint-error", "name", None, '"required"'),
    "minimum": ({"age": -3}, "constraint-error", "age", -3, '"minimum" is "0"'),
    "maxLength": ({"name": "x" * 11}, "constraint-error", "name", "x" * 11, '"maxLength"'),
    "pattern": ({"code": "abc"}, "constraint-error", "code", "abc", '"pattern" is "[A-Z]{3}"'),
    "enum": ({"role": "owner"}, "constraint-error", "role", "owner", '"enum"'),
    "unique in batch": ({"code": "ALN"}, "unique-error", "code", "ALN", "position 1"),
    "unique vs stored": ({"code": "ADA"}, "unique-error", "code", "ADA", "stored row"),
    "primary key in batch": ({"id": 2}, "primary-key", None, None, "position 1"),
    "foreign key": ({"team": 99}, "foreign-key", None, None, '"99" not found in the lookup table'),
    "self reference": ({"manager": 99}, "foreign-key", None, None, '"manager": values "99"'),
    "unknown key": ({"nickname": "Al"}, "extra-cell", "nickname", "Al", "not a field"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("label", list(ERRORS))
async def test_each_error_type_names_row_field_and_reason(people, label):
    change, type_, field_name, cell, note = ERRORS[label]
    bad = {"id": 3, "name": "Bad", **change}
    report = report_of(await people.post({"rows": [GOOD, bad]}), 2)
    error = assert_only_error(report, type_, 2, field_name, note)
    if field_name is not None:
        assert error["cell"] == cell and error["fieldNumber"] >= 1
    assert await people.stored() == [full(ADA)]


@pytest.mark.asyncio
async def test_primary_key_of_a_stored_row_is_a_primary_key_error(people):
    report = report_of(await people.post({"rows": [GOOD, {"id": 1, "name": "Again"}]}), 2)
    assert_only_error(report, "primary-key", 2, None, "stored row")
    assert await people.stored() == [full(ADA)]


def assert_keys_unique(rows: list[dict]) -> None:
    for name in ("id", "code"):
        values = [r[name] for r in rows if r[name] is not None]
        assert len(values) == len(set(values)), (name, rows)


@pytest.mark.asyncio
async def test_ignore_and_replace_keep_keys_unique(people):
    again = {"id": 1, "name": "Again", "code": "AGN"}
    response = await people.post({"rows": [again, GOOD], "ignore": True})
    assert (response.status_code, response.json()) == (201, {"ok": True})
    assert await people.stored() == [full(ADA), full(GOOD)]
    response = await people.post({"rows": [again], "replace": True})
    assert (response.status_code, response.json()) == (201, {"ok": True})
    assert await people.stored() == [full(again), full(GOOD)]
    clash = {"id": 3, "name": "Clash", "code": "ALN"}  # a new key, row 2's unique code
    for flag in ("ignore", "replace"):
        await people.post({"rows": [clash], flag: True})
        assert_keys_unique(await people.stored())


@pytest.mark.asyncio
async def test_skip_leaves_out_rows_that_clash_with_stored_rows(people):
    rows = [GOOD, {"id": 3, "name": "Dup", "code": "ADA"}, {"id": 1, "name": "Again"}]
    response = await people.post({"rows": rows, "on_invalid": "skip"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["written"], body["skipped"]) == (1, 2)
    assert body["report"]["stats"] == {"rows": 3, "errors": 2, "invalid_rows": 2}
    assert [(e["rowNumber"], e["type"]) for e in body["report"]["errors"]] == [
        (2, "unique-error"),
        (3, "primary-key"),
    ]
    assert await people.stored() == [full(ADA), full(GOOD)]


@pytest.mark.asyncio
async def test_keys_can_point_at_rows_of_the_same_batch(people):
    rows = [{"id": 2, "name": "Boss", "manager": 3}, {"id": 3, "name": "Deputy", "manager": 2}]
    assert (await people.post({"rows": rows})).status_code == 201
    assert [r["manager"] for r in await people.stored()] == [None, 3, 2]


@pytest.mark.asyncio
async def test_on_invalid_skip_keeps_the_valid_rows(people):
    rows = [GOOD, {"id": 3, "name": "Bad", "age": "old"}, {"id": 4, "name": "Ok"}]
    response = await people.post({"rows": rows, "on_invalid": "skip"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["ok"], body["written"], body["skipped"]) == (True, 2, 1)
    assert body["report"]["stats"] == {"rows": 3, "errors": 1, "invalid_rows": 1}
    assert_only_error(body["report"], "type-error", 2, "age", "integer")
    assert [r["id"] for r in await people.stored()] == [1, 2, 4]
    unknown = await people.post({"rows": [GOOD], "on_invalid": "ignore"})
    assert "on_invalid" in assert_error(unknown, 400)["error"]


@pytest.mark.asyncio
async def test_upsert_changes_named_fields_of_the_merged_row(people):
    response = await people.post({"rows": [{**await people.key(1), "age": 37}]}, "upsert")
    assert (response.status_code, response.json()) == (200, {"ok": True}), response.json()
    assert await people.stored() == [full({**ADA, "age": 37})]
    fresh = {"id": 2, "name": "New", **({"_id": 50} if people.jsonb else {})}
    assert (await people.post({"rows": [fresh]}, "upsert")).status_code == 200
    assert [r["id"] for r in await people.stored()] == [1, 2]


# a change to row 1 (row 2 is GOOD): (change, error type, field)
MERGED_ERRORS = [
    ({"name": None}, "constraint-error", "name"),
    ({"age": -5}, "constraint-error", "age"),
    ({"age": "old"}, "type-error", "age"),
    ({"email": "not-an-email"}, "type-error", "email"),
    ({"code": "ALN"}, "unique-error", "code"),
    ({"team": 42}, "foreign-key", None),
    ({"manager": 77}, "foreign-key", None),
    ({"nickname": "A"}, "extra-cell", "nickname"),
]
LABELS = ["required", "minimum", "type", "format", "unique", "fk", "self fk", "extra"]


@pytest.mark.asyncio
@pytest.mark.parametrize("change, type_, field_name", MERGED_ERRORS, ids=LABELS)
async def test_upsert_validates_the_merged_row(people, change, type_, field_name):
    assert (await people.post({"row": GOOD})).status_code == 201
    before = await people.stored()
    response = await people.post({"rows": [{**await people.key(1), **change}]}, "upsert")
    assert_only_error(report_of(response, 1), type_, 1, field_name, "")
    assert await people.stored() == before


@pytest.mark.asyncio
async def test_upsert_without_the_primary_key_is_refused(people):
    response = await people.post({"rows": [{"name": "Nobody"}]}, "upsert")
    assert "primary key" in assert_error(response, 400)["error"]
    assert await people.stored() == [full(ADA)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "change, type_, field_name",
    [*MERGED_ERRORS, ({"id": 2}, "primary-key", None)],
    ids=[*LABELS, "primary key"],
)
async def test_update_validates_the_merged_row(people, change, type_, field_name):
    assert (await people.post({"row": GOOD})).status_code == 201
    assert_only_error(report_of(await people.update(1, change), 1), type_, 1, field_name, "")
    assert await people.stored() == [full(ADA), full(GOOD)]


@pytest.mark.asyncio
async def test_a_good_update_lands(people):
    assert (await people.post({"row": GOOD})).status_code == 201
    response = await people.update(1, {"age": 40})
    assert (response.status_code, response.json()) == (200, {"ok": True}), response.json()
    response = await people.update(1, {"age": "41", "manager": 2}, **{"return": True})
    assert response.status_code == 200, response.json()
    expected = full({**ADA, "age": 41, "manager": 2})
    assert await people.stored() == [expected, full(GOOD)]
    body = response.json()
    assert set(body) == {"ok", "row"} and body["ok"] is True
    if people.jsonb:  # core's shape: the physical row, as /-/insert returns it
        assert set(body["row"]) == {"id", "data"}
        assert json.loads(body["row"]["data"]) == expected
    else:
        assert body["row"] == expected


@pytest.mark.asyncio
async def test_update_of_a_missing_row_is_404(people):
    body = {"update": people.wrap({"age": 1})}
    response = await people.ds.client.post(people.row_url(999), json=body, headers=people.headers)
    assert_error(response, 404)


@pytest.mark.asyncio
async def test_alter_on_insert_points_to_the_data_service(people):
    body = assert_error(await people.post({"row": {**GOOD, "extra": 1}, "alter": True}), 400)
    assert "schema" in body["error"]
    assert await people.stored() == [full(ADA)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "endpoint, body",
    [
        ("alter", {"operations": [{"op": "add_column", "args": {"name": "y", "type": "text"}}]}),
        ("drop", {"confirm": True}),
        ("set-column-type", {"column": "name", "column_type": {"type": "email"}}),
    ],
)
async def test_schema_changing_core_endpoints_are_refused(people, endpoint, body):
    response = await people.ds.client.post(people.url(endpoint), json=body, headers=people.headers)
    assert PATH in assert_error(response, 403)["error"]
    assert await people.stored() == [full(ADA)]
    count = await people.ds.client.get(
        path_of(people.datatable["json_url"]) + "?_extra=count", headers=people.headers
    )
    assert count.json()["count"] == 1  # the table is still there


@pytest.mark.asyncio
async def test_a_soft_deleted_datatable_refuses_writes(people):
    pk = (await people.key(1)).get("_id", 1)  # read while the table is served
    assert (await people.ds.client.delete(PATH, headers=people.headers)).status_code == 200
    assert_error(await people.post({"row": GOOD}), 404)
    body = {"update": people.wrap({"age": 2})}
    assert_error(
        await people.ds.client.post(people.row_url(pk), json=body, headers=people.headers), 404
    )
    assert (
        await people.ds.client.post(PATH + "/restore", headers=people.headers)
    ).status_code == 200
    assert [r["id"] for r in await people.stored()] == [1]
    assert (await people.post({"row": GOOD})).status_code == 201


@pytest.mark.asyncio
async def test_writers_need_permission(people):
    anonymous = await people.post({"row": GOOD}, headers={})
    assert anonymous.status_code in (401, 403), anonymous.text
    token = await people.ds.create_token("alice")
    alice = {"Authorization": f"Bearer {token}"}
    assert_error(await people.post({"row": GOOD}, headers=alice), 403)
    assert_error(await people.post({"rows": [await people.key(1)]}, "upsert", headers=alice), 403)
    assert await people.stored() == [full(ADA)]


async def core_answers(ds, headers, database: str, create=True) -> list[tuple[int, Any]]:
    """Create a table with core's API in ``database`` (or, without ``create``, write to one
    created otherwise), write a non-integer into its integer column, alter it, drop it: the
    status and body of every step."""
    columns = [{"name": "id", "type": "integer"}, {"name": "n", "type": "integer"}]
    add_y = {"op": "add_column", "args": {"name": "y", "type": "text"}}
    steps = [
        *([("/-/create", {"table": "scratch", "columns": columns, "pk": "id"})] if create else []),
        ("/scratch/-/insert", {"row": {"id": 1, "n": "abc"}}),
        ("/scratch/-/upsert", {"rows": [{"id": 1, "n": "def"}], "return": True}),
        ("/scratch/1/-/update", {"update": {"n": "ghi"}, "return": True}),
        ("/scratch/-/alter", {"operations": [add_y]}),
        ("/scratch/-/drop", {"confirm": True}),
    ]
    answers = []
    for path, body in steps:
        response = await ds.client.post(f"/{database}{path}", json=body, headers=headers)
        answers.append((response.status_code, response.json()))
    return answers


@pytest.mark.asyncio
async def test_unmanaged_tables_keep_core_behaviour(tmp_path, monkeypatch, ds, root):
    await create_app(ds, root, name="a")
    source = await create_datasource(ds, root, "a", slug="d")
    await create_datatable(ds, root, "a", "d", "teams", copy.deepcopy(TEAMS))
    ds.add_database(Database(ds, memory_name="wp_plain", is_mutable=True), name="plain")
    # A managed database takes no new table from core; one it holds already (from before it
    # was managed, or another plugin's execute_write) is core's, as in any other database.
    managed = ds.get_database(source["database"])
    refused = await core_answers(ds, root, managed.name)
    assert refused[0][0] == 403 and not await managed.table_exists("scratch")
    await managed.execute_write_fn(  # as core's /-/create would (with sqlite-utils)
        lambda conn: sqlite_utils.Database(conn)["scratch"].create({"id": int, "n": int}, pk="id")
    )
    managed_db = await core_answers(ds, root, managed.name, create=False)
    plain_db = await core_answers(ds, root, "plain")
    assert [status for status, _ in plain_db] == [201, 201, 200, 200, 200, 200]
    assert plain_db[1][1]["rows"] == [{"id": 1, "n": "abc"}]  # core does not validate
    # core itself, with none of the plugin's routes in the way
    monkeypatch.setattr(
        pm.hook,
        "register_routes",
        pm.subset_hook_caller("register_routes", [datasette_dataservice]),
    )
    reference = make_datasette(tmp_path / "reference")
    await reference.invoke_startup()
    reference.add_database(Database(reference, memory_name="wp_ref", is_mutable=True), name="ref")
    reference_root = {"Authorization": f"Bearer {await reference.create_token('root')}"}
    assert (await reference.client.get("/-/apps.json")).status_code == 404  # routes are gone
    core = await core_answers(reference, reference_root, "ref")
    reference.close()

    def as_core(answers, name):
        text = json.dumps(answers)
        for before, after in [(f'"{name}"', '"{db}"'), (f"/{name}/", "/{db}/")]:
            text = text.replace(before, after)
        return json.loads(text)

    scrub = as_core(core, "ref")
    assert as_core(plain_db, "plain") == scrub
    assert as_core(managed_db, source["database"]) == scrub[1:]
    assert not await ds.get_database(source["database"]).table_exists("scratch")


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", ["flat_table", "jsonb"])
async def test_rows_per_request_are_bounded(tmp_path, provider_type):
    ds = make_datasette(tmp_path / "data", max_rows_per_request=5)
    await ds.invoke_startup()
    try:
        root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
        await create_app(ds, root, name="a")
        await create_datasource(ds, root, "a", slug="d", provider_type=provider_type)
        datatable = await create_datatable(ds, root, "a", "d", "teams", copy.deepcopy(TEAMS))
        teams = People(ds, root, datatable, as_data=provider_type == "jsonb")
        rows = [{"id": n, "title": f"T{n}"} for n in range(1, 7)]
        body = assert_error(await teams.post({"rows": rows}), 413)
        assert body["errors"] == ["Too many rows, maximum allowed is 5"]
        assert await teams.stored() == []
        assert (await teams.post({"rows": rows[:5]})).status_code == 201
        assert [r["id"] for r in await teams.stored()] == [1, 2, 3, 4, 5]
    finally:
        ds.close()
