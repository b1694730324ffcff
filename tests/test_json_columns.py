"""``?_json=COLUMN`` parses that column's JSON text on table, row and query pages, in every
``_shape``, on {flat_table, jsonb} x {sqlite, postgres}.

Core's renderer (Datasette 1.0a41) showed each value as its column's name where rows are
dicts (table pages with ``_extra=columns``, every Postgres-backed page), failed with a 500
on ``_shape=arrays`` / ``arrayfirst``, and ignored ``_json`` on table pages otherwise."""

from __future__ import annotations

import urllib.parse

import pytest
from test_contract import ROWS
from test_same_answers import stocked  # noqa: F401  (the fixture: ROWS on every combination)

TAGS = ROWS[0]["tags"]  # row 1: ["a", "b"]


def pages(service) -> dict[str, str]:
    relation = service.json_path.removesuffix(".json").rsplit("/", 1)[1]
    sql = f'select * from "{relation}" where id = 1'
    pages = {
        "table": service.json_path + "?id=1",
        "table-columns": service.json_path + "?id=1&_extra=columns",
        "query": f"{service.database_path}/-/query.json?" + urllib.parse.urlencode({"sql": sql}),
    }
    if service.provider == "flat_table":  # a jsonb datatable's rows are its view's
        pages["row"] = service.table_path + "/1.json"
    return pages


def with_args(path: str, args: str) -> str:
    return path + ("&" if "?" in path else "?") + args


def tags_shown(body, shape: str):
    """Row 1's ``tags`` as a shape shows it."""
    if shape == "arrayfirst":  # the first column: id, or tags where it is the only one
        return body[0] if body[0] == TAGS else None
    if shape == "array":
        rows = body
    elif shape == "object":
        rows = list(body.values())
    else:
        rows = body["rows"]
    (row,) = rows
    if shape == "arrays":
        return TAGS if TAGS in row else row
    return row["tags"]


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", ["objects", "array", "arrays", "arrayfirst", "object"])
async def test_json_columns_are_parsed_in_every_shape(stocked, shape):  # noqa: F811
    for page, path in pages(stocked).items():
        if shape == "object" and (page == "query" or stocked.provider == "jsonb"):
            continue  # for tables with a primary key only (a 400, as without _json)
        response = await stocked.get(with_args(path, f"_json=tags&_shape={shape}"))
        assert response.status_code == 200, (page, response.text)
        body = response.json()
        if shape == "arrayfirst" and body == [1]:
            continue  # the id column comes first
        assert tags_shown(body, shape) == TAGS, (page, body)


@pytest.mark.asyncio
async def test_text_that_is_no_json_and_other_columns_stay_as_they_are(stocked):  # noqa: F811
    for page, path in pages(stocked).items():
        plain = await stocked.get(with_args(path, "_shape=array"))
        parsed = await stocked.get(with_args(path, "_json=name&_json=nope&_shape=array"))
        assert plain.status_code == parsed.status_code == 200, (page, parsed.text)
        assert parsed.json() == plain.json(), page


@pytest.mark.asyncio
async def test_a_json_infinity_that_is_no_boolean_is_a_400(stocked):  # noqa: F811
    """Core's renderer reads ``_json_infinity`` with ``value_as_boolean``: a 500 with no
    message for any other value, on every page."""
    for page, path in pages(stocked).items():
        response = await stocked.get(with_args(path, "_json_infinity=maybe"))
        assert response.status_code == 400, (page, response.text)
        assert response.json()["error"] == "_json_infinity must be on, off, true, false, 1 or 0"
