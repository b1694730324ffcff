"""Schema changes on both providers and both engines, with data present: plan, apply, refuse,
versions, races."""

from __future__ import annotations

import asyncio
import copy
import json
import urllib.parse

import pytest
import pytest_asyncio
from conftest import (
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    insert_row,
    path_of,
)

PROVIDERS = ["flat_table", "jsonb"]
ENGINES = ["sqlite", "postgres"]
COMBINATIONS = [(p, e) for p in PROVIDERS for e in ENGINES]
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "age", "type": "integer", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["id"],
}
ROWS = [
    {"id": 1, "name": "Ada", "age": 36},
    {"id": 2, "name": "Alan", "age": 41},
    {"id": 3, "name": "42", "age": 60},
]
BASE = "/-/apps/a/datasources/d/datatables/people"


@pytest_asyncio.fixture
async def ds(engine_ds):
    """This module's Datasette can put datasources on Postgres too (in Postgres cases)."""
    return engine_ds


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def people(request, ds, root):
    provider, engine = request.param
    await create_app(ds, root, name="a")
    await create_datasource(
        ds, root, "a", slug="d", provider_type=provider, provider_config={"engine": engine}
    )
    datatable = await create_datatable(ds, root, "a", "d", "people", copy.deepcopy(SCHEMA))
    for row in ROWS:
        assert (await insert_row(ds, root, datatable, row)).status_code == 201
    return datatable


def schema_with(*changes):
    schema = copy.deepcopy(SCHEMA)
    for change in changes:
        change(schema)
    return schema


async def stored_rows(ds, root, datatable) -> list[dict]:
    response = await ds.client.get(path_of(datatable["json_url"]) + "?_shape=objects", headers=root)
    assert response.status_code == 200, response.text
    return sorted(
        ({k: v for k, v in row.items() if k != "_id"} for row in response.json()["rows"]),
        key=lambda row: row["id"],
    )


async def put_schema(ds, root, schema, **body):
    return await ds.client.put(BASE, json={"json_schema": schema, **body}, headers=root)


async def current(ds, root) -> dict:
    return (await ds.client.get(BASE + ".json", headers=root)).json()


@pytest.mark.asyncio
async def test_add_an_optional_field_is_in_place(ds, root, people):
    schema = schema_with(lambda s: s["fields"].append({"name": "email", "type": "string"}))
    plan = (
        await ds.client.post(BASE + "/schema/plan", json={"json_schema": schema}, headers=root)
    ).json()
    assert [(op["kind"], op["field"]) for op in plan["operations"]] == [("add_field", "email")]
    expected = "alter" if people["provider_type"] == "flat_table" else "metadata"
    assert plan["operations"][0]["effect"] == expected
    assert plan["rebuild"] is False and plan["failing_rows"] == 0
    response = await put_schema(ds, root, schema)
    assert response.status_code == 200, response.json()
    assert response.json()["schema_version"] == 2
    rows = await stored_rows(ds, root, response.json())
    assert rows == [{**row, "email": None} for row in ROWS]


@pytest.mark.asyncio
async def test_rename_carries_the_data(ds, root, people):
    def rename(schema):
        schema["fields"][1]["name"] = "full_name"

    response = await put_schema(ds, root, schema_with(rename), renames={"name": "full_name"})
    assert response.status_code == 200, response.json()
    rows = await stored_rows(ds, root, response.json())
    assert [r["full_name"] for r in rows] == ["Ada", "Alan", "42"]
    assert all("name" not in r for r in rows)
    operations = (await ds.client.get(BASE + "/schema/diff.json?from=1&to=2", headers=root)).json()
    assert [op["kind"] for op in operations["operations"]] == ["rename_field"]


@pytest.mark.asyncio
async def test_a_renamed_field_reads_its_data_after_the_datatable_is_renamed(ds, root, people):
    def rename(schema):
        schema["fields"][1]["name"] = "full_name"

    response = await put_schema(ds, root, schema_with(rename), renames={"name": "full_name"})
    assert response.status_code == 200, response.json()
    renamed = await ds.client.patch(BASE, json={"name": "persons"}, headers=root)
    assert renamed.status_code == 200, renamed.json()
    rows = await stored_rows(ds, root, renamed.json())
    assert [r["full_name"] for r in rows] == ["Ada", "Alan", "42"]


@pytest.mark.asyncio
async def test_drop_field(ds, root, people):
    response = await put_schema(ds, root, schema_with(lambda s: s["fields"].pop(2)))
    assert response.status_code == 200, response.json()
    rows = await stored_rows(ds, root, response.json())
    assert rows == [{"id": r["id"], "name": r["name"]} for r in ROWS]


@pytest.mark.asyncio
async def test_type_change_casts_exactly(ds, root, people):
    def to_number(schema):
        schema["fields"][2]["type"] = "number"

    plan = (
        await ds.client.post(
            BASE + "/schema/plan", json={"json_schema": schema_with(to_number)}, headers=root
        )
    ).json()
    flat = people["provider_type"] == "flat_table"
    assert plan["rebuild"] is flat
    assert plan["operations"][0]["effect"] == ("rebuild" if flat else "metadata")
    response = await put_schema(ds, root, schema_with(to_number))
    assert response.status_code == 200, response.json()
    rows = await stored_rows(ds, root, response.json())
    assert [r["age"] for r in rows] == [36, 41, 60]
    if flat:
        assert all(isinstance(r["age"], float) for r in rows)
        assert await column_type(ds, root, people, "age") in ("REAL", "numeric")


async def column_type(ds, root, datatable, column: str) -> str | None:
    """The declared type of a physical column (None if there is no such column or table),
    asked through the database's query endpoint."""
    if datatable["engine"] == "postgres":
        sql = (
            "select data_type from information_schema.columns where table_schema ="
            " current_schema() and table_name = :table and column_name = :column"
        )
    else:
        sql = "select type from pragma_table_info(:table) where name = :column"
    query = urllib.parse.urlencode(
        {"sql": sql, "table": datatable["physical_table_name"], "column": column, "_shape": "array"}
    )
    response = await ds.client.get(f"/{datatable['database']}/-/query.json?{query}", headers=root)
    assert response.status_code == 200, response.text
    declared = [list(row.values())[0] for row in response.json()]
    return declared[0] if declared else None


@pytest.mark.asyncio
async def test_string_to_integer_refused_when_values_do_not_cast(ds, root, people):
    def to_integer(schema):
        schema["fields"][1]["type"] = "integer"

    plan = (
        await ds.client.post(
            BASE + "/schema/plan", json={"json_schema": schema_with(to_integer)}, headers=root
        )
    ).json()
    change = plan["operations"][0]
    assert (change["kind"], change["failing_rows"], change["examples"]) == (
        "change_type",
        2,
        [1, 2],
    )
    before = await current(ds, root)
    response = await put_schema(ds, root, schema_with(to_integer))
    body = assert_error(response, 409)
    assert body["report"]["failing_rows"] == 2
    assert {e["type"] for e in body["report"]["errors"]} == {"type-error"}
    after = await current(ds, root)
    assert (after["schema_hash"], after["schema_version"]) == (before["schema_hash"], 1)
    assert await stored_rows(ds, root, after) == ROWS
    operations = (await ds.client.get(BASE + "/operations.json", headers=root)).json()
    assert operations["operations"][-1]["status"] == "refused"


JSONB_COMBINATIONS = [c for c in COMBINATIONS if c[0] == "jsonb"]


@pytest.mark.asyncio
@pytest.mark.parametrize(  # a flat_table's values are cast by its rebuild
    "people", JSONB_COMBINATIONS, ids=["-".join(c) for c in JSONB_COMBINATIONS], indirect=True
)
async def test_a_jsonb_view_reads_a_value_of_another_json_type_as_null(ds, root, people):
    """Documents are never rewritten: after integer -> string, the numbers they hold read as
    NULL on both engines (not as their text on one and as numbers on the other)."""

    def to_string(schema):
        schema["fields"][2] = {"name": "age", "type": "string"}

    response = await put_schema(ds, root, schema_with(to_string), on_invalid="set_null")
    assert response.status_code == 200, response.json()
    rows = await stored_rows(ds, root, response.json())
    assert [r["age"] for r in rows] == [None, None, None]


@pytest.mark.asyncio
async def test_on_invalid_set_null_empties_failing_optional_values(ds, root, people):
    def to_integer(schema):
        schema["fields"][1]["type"] = "integer"

    response = await put_schema(ds, root, schema_with(to_integer), on_invalid="set_null")
    assert response.status_code == 200, response.json()
    rows = await stored_rows(ds, root, response.json())
    if people["provider_type"] == "flat_table":
        assert [r["name"] for r in rows] == [None, None, 42]
    else:  # jsonb documents are never rewritten; the view reads only integers as integers
        assert [r["name"] for r in rows] == [None, None, None]
        documents = await ds.client.get("/a_d/a_people.json?_shape=objects&_col=data", headers=root)
        assert [json.loads(r["data"])["name"] for r in documents.json()["rows"]] == [
            "Ada",
            "Alan",
            "42",
        ]


@pytest.mark.asyncio
async def test_new_constraint_reports_failing_rows_and_refuses(ds, root, people):
    def at_most_50(schema):
        schema["fields"][2]["constraints"]["maximum"] = 50

    schema = schema_with(at_most_50)
    plan = (
        await ds.client.post(BASE + "/schema/plan", json={"json_schema": schema}, headers=root)
    ).json()
    change = plan["operations"][0]
    assert (change["kind"], change["failing_rows"], change["examples"]) == (
        "add_constraint",
        1,
        [3],
    )
    assert plan["report"]["errors"][0]["type"] == "constraint-error"
    assert_error(await put_schema(ds, root, schema), 409)
    assert (await current(ds, root))["schema_version"] == 1


@pytest.mark.asyncio
async def test_new_required_field_fails_every_existing_row(ds, root, people):
    def add_required(schema):
        schema["fields"].append(
            {"name": "email", "type": "string", "constraints": {"required": True}}
        )

    plan = (
        await ds.client.post(
            BASE + "/schema/plan", json={"json_schema": schema_with(add_required)}, headers=root
        )
    ).json()
    assert plan["operations"][0]["failing_rows"] == 3
    assert_error(await put_schema(ds, root, schema_with(add_required)), 409)


@pytest.mark.asyncio
async def test_dry_run_changes_nothing(ds, root, people):
    before = await current(ds, root)
    schema = schema_with(lambda s: s["fields"].pop(1))
    response = await ds.client.post(
        BASE + "/schema/plan", json={"json_schema": schema}, headers=root
    )
    assert response.status_code == 200
    assert response.json()["sql"]
    after = await current(ds, root)
    assert after["schema_hash"] == before["schema_hash"]
    assert await stored_rows(ds, root, after) == ROWS


@pytest.mark.asyncio
async def test_versions_are_kept(ds, root, people):
    schema = schema_with(lambda s: s["fields"].append({"name": "email", "type": "string"}))
    await put_schema(ds, root, schema)
    v1 = (await ds.client.get(BASE + "/schema.json?version=1", headers=root)).json()
    v2 = (await ds.client.get(BASE + "/schema.json?version=2", headers=root)).json()
    assert v1 == SCHEMA and v2 == schema
    assert_error(await ds.client.get(BASE + "/schema.json?version=3", headers=root), 400)
    diff = (await ds.client.get(BASE + "/schema/diff.json?from=2&to=1", headers=root)).json()
    assert [(op["kind"], op["field"]) for op in diff["operations"]] == [("drop_field", "email")]


@pytest.mark.asyncio
async def test_patch_merges_into_the_schema(ds, root, people):
    response = await ds.client.patch(BASE, json={"json_schema": {"title": "People"}}, headers=root)
    assert response.status_code == 200, response.json()
    assert response.json()["json_schema"] == {**SCHEMA, "title": "People"}
    assert response.json()["schema_version"] == 2


@pytest.mark.asyncio
async def test_stale_schema_hash_is_refused(ds, root, people):
    schema = schema_with(lambda s: s["fields"].append({"name": "email", "type": "string"}))
    stale = {"If-Match": '"' + "0" * 64 + '"', **root}
    assert_error(await ds.client.put(BASE, json={"json_schema": schema}, headers=stale), 412)
    assert_error(await put_schema(ds, root, schema, schema_hash="0" * 64), 412)
    assert (await current(ds, root))["schema_version"] == 1
    fresh = {"If-Match": f'"{people["schema_hash"]}"', **root}
    response = await ds.client.put(BASE, json={"json_schema": schema}, headers=fresh)
    assert response.status_code == 200, response.json()


@pytest.mark.asyncio
async def test_of_two_concurrent_updates_exactly_one_wins(ds, root, people):
    first = schema_with(lambda s: s["fields"].append({"name": "email", "type": "string"}))
    second = schema_with(lambda s: s["fields"].append({"name": "phone", "type": "string"}))
    responses = await asyncio.gather(
        put_schema(ds, root, first, schema_hash=people["schema_hash"]),
        put_schema(ds, root, second, schema_hash=people["schema_hash"]),
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    assert (await current(ds, root))["schema_version"] == 2


@pytest.mark.asyncio
async def test_applied_change_is_audited_with_its_sql(ds, root, people):
    schema = schema_with(lambda s: s["fields"].append({"name": "email", "type": "string"}))
    await put_schema(ds, root, schema)
    operations = (await ds.client.get(BASE + "/operations.json", headers=root)).json()["operations"]
    change = operations[-1]
    assert (change["operation"], change["status"], change["actor"]) == (
        "change_schema",
        "applied",
        "root",
    )
    assert change["schema_before"] == SCHEMA and change["schema_after"] == schema
    assert change["sql"] and change["duration_ms"] is not None
    assert change["details"]["operations"][0]["kind"] == "add_field"


@pytest.mark.asyncio
async def test_renames_must_fit_the_schemas(ds, root, people):
    body = assert_error(await put_schema(ds, root, SCHEMA, renames={"nope": "name"}), 400)
    assert any('"nope"' in e for e in body["errors"])


def _set(field: int, key: str, value):
    def change(schema):
        if value is None:
            schema["fields"][field].setdefault("constraints", {}).pop(key, None)
        else:
            schema["fields"][field].setdefault("constraints", {})[key] = value

    return change


# (change, kind, flat_table effect, rows that fail it)
EVERY_KIND = {
    "drop minimum": (_set(2, "minimum", None), "drop_constraint", "rebuild", 0),
    "change minimum": (_set(2, "minimum", 40), "change_constraint", "rebuild", 1),
    "required": (_set(1, "required", True), "add_constraint", "rebuild", 0),
    "unique": (_set(1, "unique", True), "add_constraint", "rebuild", 0),
    "minLength": (_set(1, "minLength", 3), "add_constraint", "rebuild", 1),
    "maxLength": (_set(1, "maxLength", 3), "add_constraint", "rebuild", 1),
    "pattern": (_set(1, "pattern", "[A-Z][a-z]+"), "add_constraint", "metadata", 1),
    "enum": (_set(1, "enum", ["Ada", "Alan"]), "add_constraint", "rebuild", 1),
    "primary key": (
        lambda s: s.update(primaryKey=["id", "name"]),
        "change_primary_key",
        "rebuild",
        0,
    ),
    "self foreign key": (
        lambda s: s.update(
            foreignKeys=[{"fields": ["age"], "reference": {"resource": "", "fields": ["id"]}}]
        ),
        "add_foreign_key",
        "rebuild",
        3,
    ),
    "title only": (
        lambda s: s["fields"][1].update(title="Name"),
        "change_description",
        "metadata",
        0,
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("label", list(EVERY_KIND))
async def test_every_operation_kind(ds, root, people, label):
    change, kind, flat_effect, failing = EVERY_KIND[label]
    schema = schema_with(change)
    plan = (
        await ds.client.post(BASE + "/schema/plan", json={"json_schema": schema}, headers=root)
    ).json()
    assert [op["kind"] for op in plan["operations"]] == [kind], plan
    flat = people["provider_type"] == "flat_table"
    assert plan["operations"][0]["effect"] == (flat_effect if flat else "metadata")
    assert plan["failing_rows"] == failing, plan["report"]
    response = await put_schema(ds, root, schema)
    if failing:
        assert_error(response, 409)
        assert await stored_rows(ds, root, people) == ROWS
        return
    assert response.status_code == 200, response.json()
    assert await stored_rows(ds, root, response.json()) == ROWS


@pytest.mark.asyncio
async def test_dropping_a_constraint_lets_the_engine_accept_what_it_refused(ds, root, people):
    if people["provider_type"] != "flat_table":
        return  # jsonb documents carry no engine constraints
    refused = await insert_row(ds, root, people, {"id": 9, "name": "Neg", "age": -1})
    assert refused.status_code == 400
    assert (await put_schema(ds, root, schema_with(_set(2, "minimum", None)))).status_code == 200
    accepted = await insert_row(ds, root, people, {"id": 9, "name": "Neg", "age": -1})
    assert accepted.status_code == 201, accepted.json()


@pytest.mark.asyncio
async def test_purge_drops_the_table_after_confirmation(ds, root, people):
    body = assert_error(await ds.client.delete(BASE + "?purge=true", headers=root), 400)
    assert "confirm=people" in body["error"]
    response = await ds.client.delete(BASE + "?purge=true&confirm=people", headers=root)
    assert response.status_code == 200, response.json()
    assert await column_type(ds, root, people, "id") is None
    assert_error(await ds.client.get(BASE + ".json?include_deleted=1", headers=root), 404)
    shown = (await ds.client.get("/-/apps/a/operations.json", headers=root)).json()
    assert all(op["operation"] != "purge_datatable" for op in shown["operations"])
    # the purge is logged, among the entries of deleted datatables (shown to their managers)
    url = "/-/apps/a/operations.json?include_deleted=1"
    log = (await ds.client.get(url, headers=root)).json()["operations"]
    assert log[-1]["operation"] == "purge_datatable" and log[-1]["sql"]
    again = await create_datatable(ds, root, "a", "d", "people", copy.deepcopy(SCHEMA))
    assert again["schema_version"] == 1


@pytest.mark.asyncio
async def test_core_create_with_replace_cannot_overwrite_a_managed_table(ds, root, people):
    body = {
        "table": people["physical_table_name"],
        "columns": [{"name": "x", "type": "text"}],
        "replace": True,
    }
    response = await ds.client.post(f"/{people['database']}/-/create", json=body, headers=root)
    assert response.status_code in (400, 403, 404), response.text  # 404: Postgres has no core
    assert await stored_rows(ds, root, people) == ROWS


@pytest.mark.asyncio
async def test_a_referenced_datatable_cannot_be_renamed_or_purged(ds, root, people):
    child = {
        "fields": [{"name": "person", "type": "integer"}],
        "foreignKeys": [
            {"fields": ["person"], "reference": {"resource": "people", "fields": ["id"]}}
        ],
    }
    await create_datatable(ds, root, "a", "d", "visits", child)
    renamed = await ds.client.patch(BASE, json={"name": "persons"}, headers=root)
    assert "has a foreign key to it" in assert_error(renamed, 409)["error"]
    purged = await ds.client.delete(BASE + "?purge=true&confirm=people", headers=root)
    assert "visits" in assert_error(purged, 409)["error"]
    assert (await current(ds, root))["name"] == "people"
