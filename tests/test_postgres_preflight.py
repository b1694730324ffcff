"""A CORS preflight (``OPTIONS``) on every page of a Postgres-backed database answers 200 with
the CORS headers under ``--cors``, as core answers on a SQLite table's pages (it was a 405
without them, so a browser on another origin could not send a token to read a
Postgres-backed table). Core's database and query pages answer 200 without the headers;
the Postgres ones send them there too."""

from __future__ import annotations

import pytest
from conftest import close_data_service, make_datasette, path_of
from test_contract import ENGINES
from test_postgres_labels import linked_tables

PREFLIGHT = {
    "Origin": "https://elsewhere.example",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
async def test_every_page_answers_a_preflight(tmp_path, postgres_config, engine):
    ds = make_datasette(
        tmp_path / engine, postgres=postgres_config if engine == "postgres" else None
    )
    ds.cors = True  # datasette serve --cors
    await ds.invoke_startup()
    try:
        _, made, base = await linked_tables(ds, "flat_table", engine)
        database = "/" + made["child"]["database"]
        table = path_of(made["child"]["insert_url"]).rsplit("/-/", 1)[0]
        paths = [
            database,
            database + ".json",
            database + "/-/query.json?sql=select+1",
            base + ".json",
            base + ".csv",
            table + "/1.json",
            table + "/-/fragment",
            table + "/-/autocomplete?q=1",
        ]
        core_without_headers = {database, database + ".json", database + "/-/query.json"}
        for path in paths:
            response = await ds.client.request("OPTIONS", path, headers=PREFLIGHT)
            assert response.status_code == 200, (path, response.text)
            if engine == "sqlite" and path.split("?")[0] in core_without_headers:
                continue  # core's database and query views: no CORS headers on OPTIONS
            assert response.headers["access-control-allow-origin"] == "*", path
            assert "Authorization" in response.headers["access-control-allow-headers"], path
    finally:
        await close_data_service(ds)
