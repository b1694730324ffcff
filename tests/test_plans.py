"""Plans tell the truth (ISSUE 13 item 4): engine limits are checked when a plan is made, so
plan and apply agree; diff.json, the plan and the audit entry give the same effects; the
Postgres rebuild runs the SQL its plan showed."""

from __future__ import annotations

import copy

import pytest
from conftest import assert_error
from test_foreign_keys import PARENT, child_schema, tables  # noqa: F401 - the fixture

LONG = "f" * 70  # PostgreSQL identifiers hold 63 bytes


@pytest.mark.asyncio
async def test_plan_and_apply_agree_on_engine_limits(tables):  # noqa: F811
    assert (await tables.create("t", PARENT)).status_code == 201
    schema = copy.deepcopy(PARENT)
    schema["fields"].append({"name": LONG, "type": "string"})
    plan = await tables.put_schema("t", {"json_schema": schema}, dry_run=True)
    applied = await tables.put_schema("t", {"json_schema": schema})
    created = await tables.create("later", schema, materialize=False)
    if tables.engine == "postgres":
        for response in (plan, applied, created):
            body = assert_error(response, 400)
            assert "identifiers are limited to 63 bytes" in body["error"], body
    else:
        assert plan.status_code == 200 and plan.json()["valid"] is True, plan.text
        assert applied.status_code == 200, applied.text
        assert created.status_code == 201, created.text


CHANGES = [  # (change, the effect a materialized flat_table shows)
    (lambda s: s["fields"].append({"name": "note", "type": "string"}), "alter"),
    (lambda s: s["fields"][2].update(type="integer"), "rebuild"),
    (lambda s: s.update(description="people"), "metadata"),
]


@pytest.mark.asyncio
async def test_diff_plan_and_audit_give_the_same_effects(tables):  # noqa: F811
    parent = (await tables.create("parent", PARENT)).json()
    assert (await tables.insert(parent, [{"id": 1, "code": "a", "label": "7"}])).is_success
    schema = copy.deepcopy(PARENT)
    for version, (change, effect) in enumerate(CHANGES, start=1):
        change(schema)
        plan = (await tables.put_schema("parent", {"json_schema": schema}, dry_run=True)).json()
        response = await tables.put_schema("parent", {"json_schema": schema})
        assert response.status_code == 200, response.text
        operations = await tables.ds.client.get(
            "/-/apps/shop/operations.json?_size=100", headers=tables.headers
        )
        audit = [o for o in operations.json()["operations"] if o["operation"] == "change_schema"][
            -1
        ]
        diff = await tables.ds.client.get(
            f"{tables.base}/parent/schema/diff.json?from={version}&to={version + 1}",
            headers=tables.headers,
        )
        effects = [op["effect"] for op in plan["operations"]]
        assert effects == [op["effect"] for op in audit["details"]["operations"]]
        assert effects == [op["effect"] for op in diff.json()["operations"]]
        assert audit["sql"] == plan["sql"]
        expected = effect if tables.provider == "flat_table" else "metadata"
        assert set(effects) == {expected}, (plan, tables.provider)


@pytest.mark.asyncio
async def test_a_rebuild_runs_the_sql_its_plan_shows(tables):  # noqa: F811
    """Foreign keys that point at a rebuilt table are saved, dropped and added again by
    statements of the plan (no comment stands in for work done behind it)."""
    parent = (await tables.create("parent", PARENT)).json()
    child = (await tables.create("child", child_schema())).json()
    assert (await tables.insert(parent, [{"id": 1, "code": "a"}])).is_success
    assert (await tables.insert(child, [{"id": 1, "ref": 1}])).is_success
    schema = copy.deepcopy(PARENT)
    schema["fields"][2]["constraints"] = {"maxLength": 5}  # a CHECK: a rebuild
    plan = (await tables.put_schema("parent", {"json_schema": schema}, dry_run=True)).json()
    assert not [s for s in plan["sql"] if s.lstrip().startswith("--")], plan["sql"]
    response = await tables.put_schema("parent", {"json_schema": schema})
    assert response.status_code == 200, response.text
    # the child's foreign key is still there and enforced by the engine
    assert (await tables.insert(child, [{"id": 2, "ref": 1}])).status_code == 201
    refused = await tables.insert(child, [{"id": 3, "ref": 9}])
    assert refused.status_code == 400, refused.text
