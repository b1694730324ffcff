"""PostgreSQL: bulk import, validated inserts, reads and facets, each against its anchor in
the same run.

Run: python benchmarks/bench_postgres.py [--rows 100000] [--runs 3] [--requests 400]
     [--concurrency 4] [--rounds 5] [--dsn postgresql://postgres@127.0.0.1:5432/test]
     [--parts 1,2,3,4]

Every datasource lives in a schema of its own under a prefix unique to the run
(``bench_pg_<pid>_<time>_``); every schema under that prefix is dropped at the end, however
the run ends, and the whole run is bounded in time (``--timeout``). Five parts (``--parts``
to choose: import, insert, reads, csv, facets), each printing medians and same-run ratios:

1. Bulk import. The same rows (the validator benchmark's 6-field schema) into an empty
   table, interleaved run by run (the order rotated), the tables TRUNCATEd before each:
   raw psycopg ``COPY ... FROM STDIN`` (``write_row``, one transaction, a synchronous
   connection) into a plain table made ``LIKE`` the managed one ``INCLUDING ALL`` (same
   types, key and checks; the anchor); raw psycopg ``executemany`` into it; the import
   function the CLI runs (``service.importer.import_rows``); the HTTP import endpoint with
   one CSV upload. The raw contenders get the rows' values as tuples made before the clock
   starts; the import paths parse and validate CSV, as a client's upload arrives.
2. Validated ``/-/insert`` at 10,000 rows/request on a managed flat_table, Postgres against
   SQLite, the same rows, bodies encoded before the clock starts, through Datasette's ASGI
   client in process (the whole HTTP stack but the socket), as bench_inserts.py does.
3. Reads. One ``datasette serve`` process on 127.0.0.1 (the plugin alone, rate limits off)
   serving two flat_table datatables with the same 1,000 rows: one on SQLite, served by
   core, one on Postgres, served by the plugin's mount at the same URLs. Three endpoints on
   each: ``/db/table.json?_size=100``, the row page ``/db/table/{pk}.json`` and
   ``/db/-/query.json?sql=select * from t where id = :id&id=N`` (the point reads cycle over
   100 keys spread across the table). A fixed number of anonymous GETs from an httpx async
   client at a fixed concurrency over keep-alive connections; every round measures each
   (endpoint, engine) once, in an order rotated round by round; requests/s, p50 and p99,
   and the median of each round's own Postgres/SQLite ratio. The load generator shares the
   machine with the server (and Postgres): it costs both engines alike.

4. CSV export. ``/db/t.csv?_stream=on`` over all the rows (``--rows``) of a flat_table on
   each engine, in process as part 2: core on SQLite pages by ``_next``, the plugin reads
   one server-side cursor; interleaved runs, rows/s and the median same-run ratio. Both
   engines must send the same bytes.

5. Facets. ``/db/t.json?_facet=active&_facet=name&_size=0`` over the 100,000 rows of the
   same flat_table on each engine (Postgres served by the plugin, SQLite by core), in
   process, requests interleaved; the median of each pair's Postgres/SQLite time.

Before anything is timed, every endpoint is checked to answer 200 with the expected rows
(Postgres and SQLite answering the same rows), and every timed write is followed by a count,
so a broken path cannot produce a fast number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import DEVNULL
from urllib.parse import urlencode

import httpx
import psycopg
import yaml
from datasette_test import Datasette

sys.path.insert(0, str(Path(__file__).parent))
from bench_inserts import as_csv, encode_batches, post_batches  # noqa: E402
from bench_overhead import DATASETTE, PLUGIN, Server, free_port, p99, stop, wait_until_up  # noqa: E402
from bench_validator import SCHEMA, make_rows  # noqa: E402

from datasette_dataservice.service.core import service_for  # noqa: E402
from datasette_dataservice.service.importer import import_rows  # noqa: E402

DSN = "postgresql://postgres@127.0.0.1:5432/test"
CONNECTION = "main"
COLUMNS = [field["name"] for field in SCHEMA["fields"]]
READ_ROWS = 1_000
BATCH = 10_000


def plugin_config(data_dir: Path, dsn: str, prefix: str) -> dict:
    return {
        "data_dir": str(data_dir),
        "rate_limits": False,
        "postgres": {CONNECTION: {"dsn": dsn, "schema_prefix": prefix}},
    }


def ident(*names: str) -> str:
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


async def start_instance(data_dir: Path, dsn: str, prefix: str, **settings):
    datasette = Datasette(
        settings={"max_insert_rows": BATCH, **settings},
        plugin_config={PLUGIN: plugin_config(data_dir, dsn, prefix)},
    )
    datasette.root_enabled = True
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    return datasette, headers


async def close_instance(datasette) -> None:
    await service_for(datasette).close()  # the Postgres pools
    datasette.close()


async def create_tables(datasette, headers, app: str) -> dict[str, dict]:
    """App ``app`` with a flat_table datasource on each engine ("s": SQLite, "p": Postgres),
    each holding datatable ``t``; engine -> the datatable's description."""
    response = await datasette.client.post("/-/apps", json={"name": app}, headers=headers)
    assert response.status_code == 201, response.text[:300]
    tables = {}
    for engine, slug in (("sqlite", "s"), ("postgres", "p")):
        config = {"engine": engine}
        if engine == "postgres":
            config["connection"] = CONNECTION
        body = {"name": slug, "provider_type": "flat_table", "provider_config": config}
        response = await datasette.client.post(
            f"/-/apps/{app}/datasources", json=body, headers=headers
        )
        assert response.status_code == 201, response.text[:300]
        response = await datasette.client.post(
            f"/-/apps/{app}/datasources/{slug}/datatables",
            json={"name": "t", "json_schema": SCHEMA},
            headers=headers,
        )
        assert response.status_code == 201, response.text[:300]
        tables[engine] = response.json()
        assert tables[engine]["engine"] == engine, tables[engine]
    return tables


def drop_schemas(dsn: str, prefix: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SET lock_timeout = '30s'")
        names = [
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [prefix]
            )
        ]
        for name in names:
            conn.execute(f"DROP SCHEMA {ident(name)} CASCADE")
        databases = conn.execute(  # each datasource's own database
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        ).fetchall()
        for (database,) in databases:
            conn.execute(f"DROP DATABASE {ident(database)} WITH (FORCE)")
        roles = conn.execute(  # the datasources' reader roles are cluster-wide
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", [prefix]
        ).fetchall()
        for (role,) in roles:
            conn.execute(f"DROP OWNED BY {ident(role)} CASCADE")
            conn.execute(f"DROP ROLE {ident(role)}")
    return names


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rotated(items: list, shift: int) -> list:
    shift %= len(items)
    return items[shift:] + items[:shift]


# 1. Bulk import ---------------------------------------------------------------------------


async def bulk_import(args, datasette, headers, table: dict, admin, prefix: str, rows) -> dict:
    managed = ident(f"{prefix}{table['database']}", table["physical_table_name"])
    raw_schema = f"{prefix}raw"
    raw = ident(raw_schema, "t")
    admin.execute(f"CREATE SCHEMA {ident(raw_schema)}")
    admin.execute(f"CREATE TABLE {raw} (LIKE {managed} INCLUDING ALL)")
    values = [tuple(row[c] for c in COLUMNS) for row in rows]
    upload = as_csv(rows)
    columns = ", ".join(ident(c) for c in COLUMNS)
    service = service_for(datasette)
    datatable_path = "/-/apps/bench/datasources/p/datatables/t"

    def raw_copy() -> None:
        with admin.transaction(), admin.cursor() as cursor:
            with cursor.copy(f"COPY {raw} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)

    def raw_executemany() -> None:
        marks = ", ".join(["%s"] * len(COLUMNS))
        with admin.transaction(), admin.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {raw} ({columns}) VALUES ({marks})", values)

    async def import_function() -> None:
        datatable = await service.datatable("", "bench", "p", "t")

        async def chunks():
            for start in range(0, len(upload), 1 << 20):
                yield upload[start : start + (1 << 20)]

        status = await import_rows(service, datatable, chunks(), format="csv", actor="bench")
        assert status.state == "done", status.error

    async def import_endpoint() -> None:
        response = await datasette.client.post(
            f"{datatable_path}/import?format=csv", content=upload, headers=headers
        )
        assert response.status_code == 201, response.text[:300]

    contenders = {
        "raw psycopg COPY (anchor)": (raw, raw_copy),
        "raw psycopg executemany": (raw, raw_executemany),
        "import function (the CLI's path)": (managed, import_function),
        "import endpoint (one CSV upload)": (managed, import_endpoint),
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for run in range(args.runs):
        for name in rotated(list(contenders), run):
            target, how = contenders[name]
            admin.execute(f"TRUNCATE {raw}, {managed}")
            if asyncio.iscoroutinefunction(how):
                start = time.perf_counter()
                await how()
                timings[name].append(time.perf_counter() - start)
            else:
                timings[name].append(timed(how))
            stored = admin.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            assert stored == len(rows), (name, stored)
    admin.execute(f"TRUNCATE {raw}, {managed}")
    rates = {name: len(rows) / statistics.median(t) for name, t in timings.items()}
    anchor = "raw psycopg COPY (anchor)"
    print(f"\n1. Bulk import: {len(rows):,} rows, 6 fields, into an empty Postgres table;")
    print(f"   median of {args.runs} interleaved runs\n")
    print(f"{'contender':<36} {'rows/s':>10} {'min-max rows/s':>18} {'vs raw COPY':>12}")
    for name, rate in rates.items():
        spread = "-".join(f"{len(rows) / t:,.0f}" for t in (max(timings[name]), min(timings[name])))
        print(f"{name:<36} {rate:>10,.0f} {spread:>18} {rate / rates[anchor]:>11.0%}")
    verdicts = [
        f"{name.split(' (')[0]} {rates[name] / rates[anchor]:.0%}"
        + ("" if rates[name] >= 0.5 * rates[anchor] else " (NOT met)")
        for name in ("import function (the CLI's path)", "import endpoint (one CSV upload)")
    ]
    print("target: import at least 50% of raw COPY: " + "; ".join(verdicts))
    return rates


# 2. Validated inserts at 10,000 rows/request ----------------------------------------------


async def inserts(args, datasette, headers, tables: dict, admin, prefix: str, rows) -> None:
    bodies = encode_batches(rows, BATCH)
    sqlite_table = tables["sqlite"]
    sqlite_db = datasette.get_database(sqlite_table["database"])
    # each Postgres datasource has a database of its own: count and empty the table there
    service = service_for(datasette)
    provider = service.provider_for(await service.datatable("", "bench", "p", "t"))
    managed = provider.table(tables["postgres"]["physical_table_name"])
    admin = psycopg.connect(
        psycopg.conninfo.make_conninfo(args.dsn, dbname=provider.target.database),
        autocommit=True,
    )

    async def empty() -> None:
        await sqlite_db.execute_write(f"DELETE FROM {ident(sqlite_table['physical_table_name'])}")
        admin.execute(f"TRUNCATE {managed}")

    async def stored(engine: str) -> int:
        if engine == "postgres":
            return admin.execute(f"SELECT count(*) FROM {managed}").fetchone()[0]
        sql = f"SELECT count(*) FROM {ident(sqlite_table['physical_table_name'])}"
        return (await sqlite_db.execute(sql)).first()[0]

    timings: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    for run in range(args.runs):
        for engine in rotated(list(timings), run):
            table = tables[engine]
            await empty()
            path = f"/{table['database']}/{table['physical_table_name']}/-/insert"
            start = time.perf_counter()
            await post_batches(datasette, headers, path, bodies)
            timings[engine].append(time.perf_counter() - start)
            assert await stored(engine) == len(rows), engine
    await empty()
    admin.close()
    rates = {engine: len(rows) / statistics.median(t) for engine, t in timings.items()}
    ratios = [s / p for s, p in zip(timings["sqlite"], timings["postgres"], strict=True)]
    print(f"\n2. Validated /-/insert, {BATCH:,} rows/request, {len(rows):,} rows into an empty")
    print(f"   managed flat_table; median of {args.runs} interleaved runs\n")
    print(f"{'engine':<10} {'rows/s':>10} {'min-max rows/s':>18} {'vs SQLite':>10}")
    for engine, rate in rates.items():
        spread = "-".join(
            f"{len(rows) / t:,.0f}" for t in (max(timings[engine]), min(timings[engine]))
        )
        print(f"{engine:<10} {rate:>10,.0f} {spread:>18} {rate / rates['sqlite']:>9.2f}x")
    ratio = statistics.median(ratios)
    print(f"Postgres/SQLite, median of each run's ratio: {ratio:.2f}x")
    print(f"target: no slower than on SQLite: {'met' if ratio >= 1.0 else 'NOT met'}")


# 3. Reads through a live server ------------------------------------------------------------


def read_paths(table: dict) -> dict[str, list[tuple[str, list[int]]]]:
    """endpoint -> [(path, the ids its rows must have)]."""
    db, name = table["database"], table["physical_table_name"]
    keys = [(i * 389) % READ_ROWS + 1 for i in range(100)]
    sql = f"select * from {name} where id = :id"
    return {
        "table.json?_size=100": [(f"/{db}/{name}.json?_size=100", list(range(1, 101)))],
        "row page /{pk}.json": [(f"/{db}/{name}/{key}.json", [key]) for key in keys],
        "query.json where id = :id": [
            (f"/{db}/-/query.json?{urlencode({'sql': sql, 'id': key})}", [key]) for key in keys
        ],
    }


async def measure(client, paths: list[str], count: int, concurrency: int):
    """``count`` GETs cycling over ``paths`` from ``concurrency`` workers: (req/s, latencies)."""
    paths = [path for path, _ in paths]
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker():
        for i in remaining:
            path = paths[i % len(paths)]
            start = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start), latencies


async def verify_reads(client, paths) -> None:
    """200s with the expected rows, the same rows from both engines."""
    for endpoint in paths["sqlite"]:
        answers = {}
        for engine in ("sqlite", "postgres"):
            for path, ids in paths[engine][endpoint][:3]:
                response = await client.get(path)
                assert response.status_code == 200, (engine, path, response.text[:300])
                rows = response.json()["rows"]
                assert [row["id"] for row in rows] == ids, (engine, path, rows[:2])
                answers.setdefault(engine, []).append(rows)
        assert answers["sqlite"] == answers["postgres"], (endpoint, answers)


async def reads(args, tmp: Path, prefix: str, rows) -> None:
    data_dir = tmp / "read"
    datasette, headers = await start_instance(data_dir / "data", args.dsn, prefix)
    try:
        tables = await create_tables(datasette, headers, "read")
        body = {"rows": rows[:READ_ROWS]}
        for table in tables.values():
            path = f"/{table['database']}/{table['physical_table_name']}/-/insert"
            response = await datasette.client.post(path, json=body, headers=headers)
            assert response.status_code == 201, response.text[:300]
    finally:
        await close_instance(datasette)
    config = {"plugins": {PLUGIN: plugin_config(data_dir / "data", args.dsn, prefix)}}
    (data_dir / "datasette.yml").write_text(yaml.safe_dump(config))
    server = Server("r", "datasette serve", PLUGIN, config)
    server.port = free_port()
    server.log = data_dir / "server.log"
    command = [str(DATASETTE), "serve", "-c", str(data_dir / "datasette.yml")]
    command += ["-h", "127.0.0.1", "-p", str(server.port)]
    env = {**os.environ, "DATASETTE_LOAD_PLUGINS": PLUGIN}
    with open(server.log, "wb") as log:
        server.process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT, stdin=DEVNULL
        )
    try:
        await wait_until_up(server, 60)
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
            plugins = {p["name"] for p in (await client.get("/-/plugins.json")).json()}
            assert plugins == {PLUGIN}, sorted(plugins)
            paths = {engine: read_paths(table) for engine, table in tables.items()}
            await verify_reads(client, paths)
            print(f"\nserver on port {server.port}: plugins {sorted(plugins)}; endpoints verified")
            pairs = [(endpoint, engine) for endpoint in paths["sqlite"] for engine in paths]
            for endpoint, engine in pairs:  # warm-up: connections, pools, code paths
                await measure(client, paths[engine][endpoint], args.requests // 4, args.concurrency)
            results: dict[tuple[str, str], list] = {pair: [] for pair in pairs}
            for round_ in range(args.rounds):
                for endpoint, engine in rotated(pairs, round_):
                    results[(endpoint, engine)].append(
                        await measure(
                            client, paths[engine][endpoint], args.requests, args.concurrency
                        )
                    )
    finally:
        stop([server])
    report_reads(args, results)


def report_reads(args, results) -> None:
    print(
        f"\n3. Reads, {READ_ROWS:,}-row table: {args.requests} GETs per measurement at"
        f" concurrency {args.concurrency}; medians of {args.rounds} interleaved rounds\n"
    )
    header = (
        f"{'endpoint':<27} {'engine':<9} {'req/s':>7} {'min-max req/s':>14}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'req/s vs SQLite':>16} {'p50 vs SQLite':>14}"
    )
    print(header)
    print("-" * len(header))
    verdicts = []
    for endpoint in dict.fromkeys(endpoint for endpoint, _ in results):
        base = results[(endpoint, "sqlite")]
        for engine in ("sqlite", "postgres"):
            runs = results[(endpoint, engine)]
            rates = [rate for rate, _ in runs]
            p50s = [statistics.median(lat) for _, lat in runs]
            rate_ratio = statistics.median(r / b for r, (b, _) in zip(rates, base, strict=True))
            p50_ratio = statistics.median(
                p / statistics.median(b) for p, (_, b) in zip(p50s, base, strict=True)
            )
            spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
            print(
                f"{endpoint:<27} {engine:<9} {statistics.median(rates):>7,.0f} {spread:>14}"
                f" {statistics.median(p50s) * 1000:>7.2f}"
                f" {statistics.median(p99(lat) for _, lat in runs) * 1000:>7.2f}"
                f" {rate_ratio:>15.2f}x {p50_ratio:>13.2f}x"
            )
            if engine == "postgres":
                verdicts.append(f"{endpoint} {rate_ratio:.2f}x")
        print()
    print("vs SQLite: median over rounds of the same round's ratio to the SQLite datatable")
    print("target: Postgres requests/s at least equal to SQLite's: " + "; ".join(verdicts))


# 4. CSV export of every row (?_stream=on) --------------------------------------------------


async def csv_stream(args, datasette, headers, tables: dict, rows) -> None:
    """``/db/t.csv?_stream=on`` over all the rows: core on SQLite (page after page by
    ``_next``) against the plugin on Postgres (one server-side cursor), interleaved run by
    run, through Datasette's ASGI client in process; both must send the same bytes."""
    bodies = encode_batches(rows, BATCH)
    for table in tables.values():
        path = f"/{table['database']}/{table['physical_table_name']}/-/insert"
        await post_batches(datasette, headers, path, bodies)
    paths = {
        engine: f"/{t['database']}/{t['physical_table_name']}.csv?_stream=on"
        for engine, t in tables.items()
    }
    sent: dict[str, bytes] = {}
    timings: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    for run in range(args.runs):
        for engine in rotated(list(timings), run):
            start = time.perf_counter()
            response = await datasette.client.get(paths[engine], headers=headers)
            timings[engine].append(time.perf_counter() - start)
            assert response.status_code == 200, response.text[:300]
            sent[engine] = response.content
            assert sent[engine].count(b"\r\n") == len(rows) + 1, (engine, sent[engine][-300:])
    assert sent["postgres"] == sent["sqlite"], "the engines sent different CSV"
    rates = {engine: len(rows) / statistics.median(t) for engine, t in timings.items()}
    ratios = [s / p for s, p in zip(timings["sqlite"], timings["postgres"], strict=True)]
    print(f"\n4. CSV export, /t.csv?_stream=on, {len(rows):,} rows ({len(sent['sqlite']):,} bytes,")
    print(f"   the same on both engines); median of {args.runs} interleaved runs\n")
    print(f"{'engine':<10} {'rows/s':>10} {'min-max rows/s':>18} {'vs SQLite':>10}")
    for engine, rate in rates.items():
        spread = "-".join(
            f"{len(rows) / t:,.0f}" for t in (max(timings[engine]), min(timings[engine]))
        )
        print(f"{engine:<10} {rate:>10,.0f} {spread:>18} {rate / rates['sqlite']:>9.2f}x")
    ratio = statistics.median(ratios)
    print(f"Postgres/SQLite, median of each run's ratio: {ratio:.2f}x")
    print(f"target: no slower than on SQLite: {'met' if ratio >= 1.0 else 'NOT met'}")


# 5. Facets over the whole table ----------------------------------------------------------

FACETS = "_facet=active&_facet=name&_size=0"


async def facets(args, tmp: Path, prefix: str, rows) -> None:
    """``_facet`` on two columns (active: 2 values; name: one per row) over every row, on
    Postgres (the plugin) and on SQLite (core), in process; the facet time limit lifted so
    both count to the end."""
    limits = {"facet_time_limit_ms": 600_000, "sql_time_limit_ms": 600_000}
    datasette, headers = await start_instance(tmp / "facets", args.dsn, prefix, **limits)
    try:
        tables = await create_tables(datasette, headers, "facets")
        bodies = encode_batches(rows, BATCH)
        paths = {}
        for engine, table in tables.items():
            base = f"/{table['database']}/{table['physical_table_name']}"
            await post_batches(datasette, headers, f"{base}/-/insert", bodies)
            paths[engine] = f"{base}.json?{FACETS}"
        answers = {}
        for engine, path in paths.items():  # checked, and warmed up
            response = await datasette.client.get(path)
            assert response.status_code == 200, (engine, response.text[:300])
            body = response.json()["facet_results"]
            assert not body["timed_out"], (engine, body["timed_out"])
            answers[engine] = [
                [(v["value"], v["count"]) for v in facet["results"]]
                for facet in body["results"].values()
            ]
        assert answers["sqlite"] == answers["postgres"], answers
        assert sum(count for _, count in answers["postgres"][0]) == len(rows)
        timings: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        for run in range(args.runs * 3):
            for engine in rotated(list(timings), run):
                start = time.perf_counter()
                response = await datasette.client.get(paths[engine])
                timings[engine].append(time.perf_counter() - start)
                assert response.status_code == 200, response.text[:300]
    finally:
        await close_instance(datasette)
    ratios = [p / s for s, p in zip(timings["sqlite"], timings["postgres"], strict=True)]
    print(f"\n5. Facets: /db/t.json?{FACETS} over {len(rows):,} rows, in process;")
    print(f"   median of {args.runs * 3} interleaved requests\n")
    print(f"{'engine':<10} {'ms':>8} {'min-max ms':>16}")
    for engine, times in timings.items():
        spread = f"{min(times) * 1000:,.1f}-{max(times) * 1000:,.1f}"
        print(f"{engine:<10} {statistics.median(times) * 1000:>8,.1f} {spread:>16}")
    ratio = statistics.median(ratios)
    print(f"Postgres/SQLite time, median of each run's ratio: {ratio:.2f}x")
    print(f"target: no slower than on SQLite: {'met' if ratio <= 1.0 else 'NOT met'}")


async def run(args, tmp: Path, prefix: str) -> None:
    rows = make_rows(args.rows)
    parts = set(args.parts.split(","))
    if parts & {"import", "insert"}:
        with psycopg.connect(args.dsn, autocommit=True, connect_timeout=10) as admin:
            datasette, headers = await start_instance(tmp / "data", args.dsn, prefix)
            try:
                tables = await create_tables(datasette, headers, "bench")
                if "import" in parts:
                    await bulk_import(
                        args, datasette, headers, tables["postgres"], admin, prefix, rows
                    )
                if "insert" in parts:
                    await inserts(args, datasette, headers, tables, admin, prefix, rows)
            finally:
                await close_instance(datasette)
    if "reads" in parts:
        await reads(args, tmp, prefix, rows)
    if "csv" in parts:
        datasette, headers = await start_instance(tmp / "csv", args.dsn, prefix)
        try:
            tables = await create_tables(datasette, headers, "csv")
            await csv_stream(args, datasette, headers, tables, rows)
        finally:
            await close_instance(datasette)
    if "facets" in parts:
        await facets(args, tmp, prefix, rows)


async def main(args) -> None:
    prefix = f"bench_pg_{os.getpid()}_{int(time.time())}_"
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"schema prefix {prefix}; {args.rows:,} rows; Postgres {postgres_version(args.dsn)}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await asyncio.wait_for(run(args, Path(tmp), prefix), timeout=args.timeout)
    finally:
        dropped = drop_schemas(args.dsn, prefix)
        print(f"\ndropped schemas: {', '.join(dropped) or 'none'}")
    print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def postgres_version(dsn: str) -> str:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="for the import and insert parts")
    parser.add_argument("--requests", type=int, default=400, help="per read measurement")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5, help="of read measurements")
    parser.add_argument(
        "--parts", default="import,insert,reads,csv,facets", help="which, comma-separated"
    )
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--timeout", type=float, default=1200, help="for the whole run")
    main_args = parser.parse_args()
    assert main_args.rows >= READ_ROWS, f"--rows must be at least {READ_ROWS}"
    asyncio.run(main(main_args))
