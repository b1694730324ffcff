"""Foreign-key labels on Postgres-backed tables as core gives them on SQLite (issue 14):
``?_labels=on`` / ``?_label=col`` in JSON and CSV, the ``expandable_columns`` extra, the
label column core picks (the one unique text column, a ``name``, the other column of an
``id`` + one table), and HTML links to the referenced row."""

from __future__ import annotations

import re

import pytest
from conftest import close_data_service, make_datasette, path_of
from test_contract import ENGINES, PROVIDERS, without_volatile
from test_foreign_keys import PARENT, Tables

NAMED = {  # no unique text column: the "name" column is the label
    "fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}],
    "primaryKey": ["id"],
}
PAIR = {  # id + one other column: that column is the label
    "fields": [{"name": "id", "type": "integer"}, {"name": "colour", "type": "string"}],
    "primaryKey": ["id"],
}
CHILD = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "ref", "type": "integer"},
        {"name": "named", "type": "integer"},
        {"name": "pair", "type": "integer"},
        {"name": "note", "type": "string"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [
        {"fields": ["ref"], "reference": {"resource": "parent", "fields": ["id"]}},
        {"fields": ["named"], "reference": {"resource": "named", "fields": ["id"]}},
        {"fields": ["pair"], "reference": {"resource": "pair", "fields": ["id"]}},
    ],
}
CHILD_ROWS = [
    {"id": 1, "ref": 1, "named": 1, "pair": 1, "note": "x"},
    {"id": 2, "ref": 2, "named": None, "pair": 1},
    {"id": 3, "ref": None, "named": 1, "pair": None},
]
QUERIES = [
    ".json?_labels=on",
    ".json?_labels=1&_shape=objects",
    ".json?_label=named",
    ".json?_label=ref&_label=pair&_shape=array",
    ".json?_labels=off",
    ".json?_labels=nope",
    ".json?_extra=expandable_columns",
    ".json?_extra=expandable_columns&_labels=on&_col=ref",
    ".csv?_labels=on",
    ".csv?_label=pair",
    ".csv?_labels=on&_stream=on",
    ".csv?_labels=on&_nocol=ref",
]


async def scenario(tmp_path, postgres_config, provider, engine) -> list:
    config = postgres_config if engine == "postgres" else None
    ds = make_datasette(tmp_path / f"{provider}-{engine}", postgres=config)
    await ds.invoke_startup()
    try:
        headers, made, base = await linked_tables(ds, provider, engine)
        out = []
        for query in QUERIES:
            response = await ds.client.get(base + query, headers=headers)
            if query.startswith(".json"):
                out.append((query, response.status_code, without_volatile(response.json())))
            else:
                out.append((query, response.status_code, response.text))
        cells = r'<td class="col-(?:ref|named|pair)[^"]*"[^>]*>.*?</td>'
        html = (await ds.client.get(base, headers=headers)).text
        out.append(("html links", re.findall(cells, html)))
        tables_of = {n: path_of(made[n]["insert_url"]).rsplit("/-/", 1)[0] for n in made}
        html = (await ds.client.get(tables_of["child"] + "/1", headers=headers)).text
        out.append(("row html links", re.findall(cells, html)))
        for name in ("parent", "pair", "child"):
            path = tables_of[name] + "/1.json?_extra=foreign_key_tables"
            response = await ds.client.get(path, headers=headers)
            out.append((path, response.status_code, response.json().get("foreign_key_tables")))
        return out
    finally:
        await close_data_service(ds)


async def linked_tables(ds, provider: str, engine: str) -> tuple[dict, dict, str]:
    """parent, named, pair and child (referencing the three): (headers, the datatables,
    child's table path without format)."""
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await ds.client.post("/-/apps", json={"name": "shop"}, headers=headers)
    body = {
        "name": "main",
        "provider_type": provider,
        "provider_config": {"engine": engine}
        | ({"connection": "main"} if engine == "postgres" else {}),
    }
    response = await ds.client.post("/-/apps/shop/datasources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    tables = Tables(ds, headers, provider, engine)
    made = {}
    for name, schema, rows in [
        ("parent", PARENT, [{"id": 1, "code": "a", "label": "A"}, {"id": 2, "code": "b"}]),
        ("named", NAMED, [{"id": 1, "name": "Uno"}]),
        ("pair", PAIR, [{"id": 1, "colour": "red"}]),
        ("child", CHILD, CHILD_ROWS),
    ]:
        response = await tables.create(name, schema)
        assert response.status_code == 201, response.text
        made[name] = response.json()
        assert (await tables.insert(made[name], rows)).status_code == 201
    base = path_of(made["child"]["json_url"]).rsplit(".json", 1)[0]
    return headers, made, base


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_labels_are_what_core_gives(tmp_path, postgres_config, provider):
    runs = {e: await scenario(tmp_path, postgres_config, provider, e) for e in ENGINES}
    if provider == "flat_table":  # a jsonb datatable is a view: no foreign keys to expand
        labelled = dict((q, body) for q, _, body in runs["sqlite"][:1])[".json?_labels=on"]
        assert labelled["rows"][0]["ref"] == {"value": 1, "label": "a"}  # the unique text column
        assert labelled["rows"][0]["named"] == {"value": 1, "label": "Uno"}  # "name"
        assert labelled["rows"][0]["pair"] == {"value": 1, "label": "red"}  # the other column
        assert runs["sqlite"][-3][2][0]["count"] == 1, runs["sqlite"][-3]  # child 1 -> parent 1
        assert runs["sqlite"][-4][1], runs["sqlite"][-4]  # the row page links its keys
    for on_sqlite, on_postgres in zip(runs["sqlite"], runs["postgres"], strict=True):
        assert on_postgres == on_sqlite


@pytest.mark.asyncio
async def test_a_labelled_stream_holds_one_connection(tmp_path, postgres_config):
    """A streaming CSV keeps its cursor's connection; its label lookups use that one, so a
    pool of one connection serves it (no wait for a second, no 503)."""
    config = {"main": {**postgres_config["main"], "max_size": 1}}
    ds = make_datasette(tmp_path / "data", postgres=config)
    await ds.invoke_startup()
    try:
        headers, _, base = await linked_tables(ds, "flat_table", "postgres")
        response = await ds.client.get(base + ".csv?_labels=on&_stream=on", headers=headers)
        assert response.status_code == 200, response.text
        assert response.text.splitlines()[1] == "1,1,a,1,Uno,1,red,x"
    finally:
        await close_data_service(ds)
