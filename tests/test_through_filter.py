"""``?_through={"table": T, "column": C, "value": V}`` on managed tables, both engines: the
rows that T's rows with C = V refer to, with the table's other filters, in JSON, CSV and the
page's description; bad input a 400 that says what to send (core on SQLite: 500s, and a
parameter named like the first filter's, so ``?name=...&_through=...`` found nothing)."""

from __future__ import annotations

import html
import json
import re
import urllib.parse

import pytest
from conftest import close_data_service, make_datasette, path_of
from test_contract import ENGINES
from test_postgres_labels import linked_tables

from datasette_dataservice.dataplane.filter_values import NUL_MESSAGE
from datasette_dataservice.dataplane.through import NO_FOREIGN_KEY, SHAPE


def through(value, table="child", column="note") -> str:
    text = json.dumps({"table": f"shop_{table}", "column": column, "value": value})
    return "_through=" + urllib.parse.quote(text)


# child rows: 1 (ref 1, named 1, note "x"), 2 (ref 2, named null), 3 (ref null, named 1)
FOUND = [
    ("parent", through("x"), [1]),
    ("parent", through(2, column="id"), [2]),
    ("parent", through("2", column="id"), [2]),
    ("parent", through(2.0, column="id"), [2]),
    ("parent", through(None, column="ref"), []),
    ("parent", through("nope"), []),
    ("parent", f"{through(1, column='named')}&code=a", [1]),  # with a filter: both hold
    ("parent", f"{through(1, column='named')}&code=b", []),
    ("parent", f"{through(1, column='pair')}&{through(1, column='named')}", [1]),
    ("named", through(1, column="id"), [1]),
]


async def served(tmp_path, postgres_config, engine):
    config = postgres_config if engine == "postgres" else None
    ds = make_datasette(tmp_path / engine, postgres=config)
    await ds.invoke_startup()
    headers, made, _ = await linked_tables(ds, "flat_table", engine)
    bases = {n: path_of(d["json_url"]).removesuffix(".json") for n, d in made.items()}
    return ds, headers, bases


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
async def test_through_finds_the_rows_referred_to(tmp_path, postgres_config, engine):
    ds, headers, bases = await served(tmp_path, postgres_config, engine)
    try:
        for table, query, ids in FOUND:
            path = f"{bases[table]}.json?{query}&_shape=array"
            response = await ds.client.get(path, headers=headers)
            assert response.status_code == 200, (query, response.text)
            assert [row["id"] for row in response.json()] == ids, query
        query = through(1, column="named")
        csv = await ds.client.get(f"{bases['parent']}.csv?{query}", headers=headers)
        assert csv.text.splitlines()[1:] == ["1,a,A"], csv.text
        page = await ds.client.get(f"{bases['parent']}?{query}&code=a", headers=headers)
        title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)
        assert html.unescape(title).endswith('1 row where shop_child.named = "1" and code = "a"')
    finally:
        await close_data_service(ds)


REFUSED = [
    ("_through=nope", SHAPE),
    ("_through=" + urllib.parse.quote('{"table": "shop_child"}'), SHAPE),
    ("_through=" + urllib.parse.quote("[1]"), SHAPE),
    (through("x", table="named"), NO_FOREIGN_KEY),  # named refers to no table
    (through("x", table="nope"), NO_FOREIGN_KEY),
    (through("x", column="nope"), "no such column: nope"),
    (through({"a": 1}), '_through\'s "value" must be a string, a number or null'),
    (through("a\x00b"), NUL_MESSAGE),  # no PostgreSQL text holds one
]


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
async def test_bad_through_is_a_400_saying_what_to_send(tmp_path, postgres_config, engine):
    ds, headers, bases = await served(tmp_path, postgres_config, engine)
    try:
        for query, message in REFUSED:
            response = await ds.client.get(f"{bases['parent']}.json?{query}", headers=headers)
            assert response.status_code == 400, (query, response.text)
            assert response.json()["error"] == message, query
    finally:
        await close_data_service(ds)
