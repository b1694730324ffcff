"""A URL corpus decides "same answer" (issue 14): several hundred read URLs, generated
systematically, requested on {flat_table, jsonb} x {sqlite, postgres} with the same data;
each URL's normalised answer on Postgres must equal SQLite's (Datasette core's own).

One Datasette per combination, module-scoped. Normalising drops only what is engine-specific
by nature: timings, SQL text, DDL (compared by presence) and the database's repr. HTML
pages compare by status and the table's cell values.
"""

from __future__ import annotations

import asyncio
import json
import re
from html.parser import HTMLParser

import httpx2
import pytest
import pytest_asyncio
from conftest import RUN_PREFIX, close_data_service, path_of
from corpus_urls import CASES, ROWS, SCHEMA, Case
from test_contract import ENGINES, PROVIDERS, start_service

# Only user-written ``-/query`` SQL may answer differently, where SQL itself differs, and
# what prints an engine's own SQL or names the engine; each such difference is listed here
# with its reason (the README lists them too). Table, row and filter URLs must answer alike.
KNOWN_DIFFERENCES = [
    (
        "-/query ORDER BY a column with NULLs",
        "SQLite puts NULLs first in ascending order, PostgreSQL last: the SQL a user writes "
        "runs as written (add NULLS FIRST/LAST to get one order on both).",
    ),
    (
        "error messages of user-written SQL (-/query, ?_where=)",
        "Each engine words its own errors (SQLite: 'no such column: x', PostgreSQL: 'column "
        "\"x\" does not exist'); both answer 400 with Datasette's error shape.",
    ),
    (
        "_extra=table_definition, _extra=view_definition",
        "Each engine prints its own DDL (PostgreSQL's pg_get_viewdef and column types, "
        "SQLite's CREATE statement as written): the corpus compares whether there is one.",
    ),
    (
        "_extra=debug's resolved",
        "It is the repr of the resolved table, whose database names its engine: SQLite's "
        "'(mutable, size=<the file's bytes>)', PostgreSQL's '(postgres)'; the rest is alike.",
    ),
    (
        "__arraycontains on a field that holds no JSON, with other filters",
        "SQLite fails on the first value json_each reads that is no JSON ('malformed JSON'); "
        "PostgreSQL too, but which rows are read first is each engine's plan: one may answer "
        "400 where the other finds no rows.",
    ),
    (
        "-/query dialect",
        "Functions and casts are each engine's own (SQLite's json_extract, PostgreSQL's ->>, "
        "typeof, ::text, ...); the corpus queries only portable SQL.",
    ),
]

VOLATILE = {"query_ms", "sql", "count_sql"}  # timings and each engine's SQL text


# Normalising -------------------------------------------------------------------------------


DDL = {"table_definition", "view_definition"}  # each engine's own (KNOWN_DIFFERENCES)
DATABASE_REPR = re.compile(r"<Database: ([^ >]+) \([^)]*\)>")


def normalised(value):
    if isinstance(value, dict):
        return {k: _normalised_item(k, v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def _normalised_item(key: str, value):
    """A key's value, normalised; each engine's own DDL and database repr (listed in
    KNOWN_DIFFERENCES) reduced to what must be alike: their presence, the rest of the repr."""
    if key in DDL:
        return type(value).__name__
    if key == "resolved" and isinstance(value, str):
        return DATABASE_REPR.sub(r"<Database: \1 (...)>", value)
    return normalised(value)


class _Cells(HTMLParser):
    """The text of each cell of the page's table(s) and its error message, if any."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.in_error = False
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "p" and "message-error" in (dict(attrs).get("class") or ""):
            self.in_error = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "p":
            self.in_error = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self.in_error:
            self.errors.append(data.strip())


def html_extract(text: str):
    parser = _Cells()
    parser.feed(text)
    count = re.search(r"<h3>([\d,]+) rows?", text)
    return {
        "rows": [r for r in parser.rows if r],
        "count": count.group(1) if count else None,
        "errors": parser.errors,
    }


async def answer(service, case: Case):
    """(status, normalised body) of one case on one service (its ``client``: one ASGI app
    for the whole corpus; ``ds.client`` builds Datasette's routes again for each request)."""

    async def get(path: str):
        return await service.client.get(path, headers=service.headers)

    table = service.json_path.removesuffix(".json")
    path = case.path.format(t=table, tp=service.table_path, db=service.database_path)
    path = path.replace("%7Btable%7D", service.datatable["table"])
    if case.kind == "walk":
        pages, rows = [], []
        while path:
            response = await get(path)
            if response.status_code != 200:
                return ("walk", response.status_code, normalised(response.json()))
            body = response.json()
            rows += body["rows"]
            pages.append({k: v for k, v in normalised(body).items() if k != "rows"})
            path = path_of(body["next_url"]) if body.get("next_url") else None
            assert len(pages) <= len(ROWS) + 1, "next_url loops"
        return ("walk", pages, rows)
    response = await get(path)
    if case.kind == "html":
        return (response.status_code, html_extract(response.text))
    if case.kind == "csv":
        return (response.status_code, response.headers.get("content-type"), response.text)
    try:
        body = normalised(response.json())
    except ValueError:
        body = response.text
    if case.user_sql and isinstance(body, dict) and body.get("error"):
        body["error"] = "(the engine's message)"
        if "errors" in body:
            body["errors"] = ["(the engine's message)"]
    return (response.status_code, body)


# The services ------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=PROVIDERS)
async def pair(request, tmp_path_factory, postgres_dsn):
    """The same data on SQLite and on Postgres, for one provider."""
    provider = request.param
    config = {"main": {"dsn": postgres_dsn, "schema_prefix": f"{RUN_PREFIX}corpus_{provider}_"}}
    services = {}
    try:
        for engine in ENGINES:
            tmp = tmp_path_factory.mktemp(f"corpus-{provider}-{engine}")
            service = await start_service(
                tmp, provider, engine, config if engine == "postgres" else None, schema=SCHEMA
            )
            services[engine] = service
            response = await service.insert(ROWS)
            assert response.status_code == 201, response.text
            transport = httpx2.ASGITransport(app=service.ds.app())
            service.client = httpx2.AsyncClient(transport=transport, base_url="http://localhost")
        yield services
    finally:
        for service in services.values():
            if getattr(service, "client", None) is not None:
                await service.client.aclose()
            await close_data_service(service.ds)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_same_answer(pair, case):
    on_sqlite, on_postgres = await asyncio.gather(
        answer(pair["sqlite"], case), answer(pair["postgres"], case)
    )
    assert on_sqlite[0] != 500, on_sqlite
    assert on_postgres == on_sqlite


def test_the_corpus_is_several_hundred_urls():
    assert len(CASES) >= 500
    assert json.dumps(KNOWN_DIFFERENCES)  # listed with their reasons
