"""Bulk import (issue 16): CSV, NDJSON and JSON-array imports against each database's floor.

Run: python benchmarks/bench_import.py [--rows 100000] [--runs 3] [--only postgres,csv]
     python benchmarks/bench_import.py --rss        # peak RSS, 100k rows against 2M rows

The same rows (the validator benchmark's 6-field schema), interleaved run by run with the
order rotated, each into an empty table (emptied before each contender):

- PostgreSQL: raw psycopg ``COPY`` of ready tuples into a table made ``LIKE`` the managed one
  (the anchor, as in bench_postgres.py); the import function the CLI runs
  (``service.importer.import_rows``) with a CSV upload, the same with the columnar fast path
  switched off (the reference path: what imports did before), NDJSON and a JSON array;
- SQLite: raw sqlite3 ``executemany`` of ready tuples into a STRICT table (the floor, as in
  bench_inserts.py); the same four import contenders into a managed flat_table.

Uploads are encoded before the clock starts and fed in 1 MB chunks. Every timed write is
followed by a count. ``--rss`` runs one import per subprocess (SQLite; the upload generated
chunk by chunk, never held whole) and prints each one's peak resident set size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import psycopg.conninfo

sys.path.insert(0, str(Path(__file__).parent))
from bench_inserts import CORE_DDL, as_csv  # noqa: E402
from bench_postgres import (  # noqa: E402
    COLUMNS,
    DSN,
    close_instance,
    create_tables,
    drop_schemas,
    ident,
    rotated,
    start_instance,
)
from bench_validator import make_rows  # noqa: E402

from datasette_dataservice.service import import_fast  # noqa: E402
from datasette_dataservice.service.core import service_for  # noqa: E402
from datasette_dataservice.service.importer import import_rows  # noqa: E402

CHUNK = 1 << 20


def uploads(rows: list[dict]) -> dict[str, bytes]:
    return {
        "csv": as_csv(rows),
        "ndjson": "".join(json.dumps(r) + "\n" for r in rows).encode(),
        "json": json.dumps(rows).encode(),
    }


async def chunked(data: bytes):
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def importer(service, datasource: str, data: bytes, fmt: str, fast: bool = True):
    async def run() -> None:
        import_fast.ENABLED = fast
        try:
            datatable = await service.datatable("", "bench", datasource, "t")
            status = await import_rows(service, datatable, chunked(data), format=fmt, actor="b")
        finally:
            import_fast.ENABLED = True
        assert status.state == "done", status.error

    return run


async def main(args) -> None:
    prefix = f"bench_imp_{os.getpid()}_{int(time.time())}_"
    rows = make_rows(args.rows)
    data = uploads(rows)
    values = [tuple(row[c] for c in COLUMNS) for row in rows]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            datasette, headers = await start_instance(tmp / "data", args.dsn, prefix)
            try:
                tables = await create_tables(datasette, headers, "bench")
                service = service_for(datasette)
                datatable = await service.datatable("", "bench", "p", "t")
                target = service.provider_for(datatable).target  # the datasource's database
                dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=target.database)
                with psycopg.connect(dsn, autocommit=True) as admin:
                    await compare(args, datasette, tables, admin, prefix, tmp, data, values)
            finally:
                await close_instance(datasette)
    finally:
        drop_schemas(args.dsn, prefix)
    print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


async def compare(args, datasette, tables, admin, prefix, tmp, data, values) -> None:
    service = service_for(datasette)
    pg = tables["postgres"]
    datatable = await service.datatable("", "bench", "p", "t")
    target = service.provider_for(datatable).target
    managed = ident(target.schema, pg["physical_table_name"])
    raw = ident(f"{prefix}raw", "t")
    admin.execute(f"CREATE SCHEMA {ident(prefix + 'raw')}")
    admin.execute(f"CREATE TABLE {raw} (LIKE {managed} INCLUDING ALL)")
    columns = ", ".join(ident(c) for c in COLUMNS)
    lite = tables["sqlite"]
    lite_db = datasette.get_database(lite["database"])
    floor_db = sqlite3.connect(tmp / "floor.db", check_same_thread=False)
    floor_db.execute(CORE_DDL.replace("core_rows", "t") + " STRICT")

    async def raw_copy() -> None:
        with admin.transaction(), admin.cursor() as cursor:
            with cursor.copy(f"COPY {raw} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)

    async def floor() -> None:
        with floor_db:
            floor_db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", values)

    contenders = {
        ("postgres", "raw psycopg COPY (anchor)"): raw_copy,
        ("postgres", "import CSV"): importer(service, "p", data["csv"], "csv"),
        ("postgres", "import CSV, reference path"): importer(
            service, "p", data["csv"], "csv", fast=False
        ),
        ("postgres", "import NDJSON"): importer(service, "p", data["ndjson"], "ndjson"),
        ("postgres", "import JSON array"): importer(service, "p", data["json"], "json"),
        ("sqlite", "sqlite3 executemany (floor)"): floor,
        ("sqlite", "import CSV"): importer(service, "s", data["csv"], "csv"),
        ("sqlite", "import CSV, reference path"): importer(
            service, "s", data["csv"], "csv", fast=False
        ),
        ("sqlite", "import NDJSON"): importer(service, "s", data["ndjson"], "ndjson"),
        ("sqlite", "import JSON array"): importer(service, "s", data["json"], "json"),
    }

    if args.only:  # the floors, and the contenders whose name holds one of the words
        words = [w.lower() for w in args.only.split(",")]
        contenders = {
            key: run
            for key, run in contenders.items()
            if "floor" in key[1]
            or "anchor" in key[1]
            or any(w in " ".join(key).lower() for w in words)
        }

    async def empty() -> None:
        admin.execute(f"TRUNCATE {raw}, {managed}")
        await lite_db.execute_write(f'DELETE FROM "{lite["physical_table_name"]}"')
        floor_db.execute("DELETE FROM t")
        floor_db.commit()

    async def stored(key) -> int:
        engine, name = key
        if engine == "postgres":
            target = raw if "anchor" in name else managed
            return admin.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        if "floor" in name:
            return floor_db.execute("SELECT count(*) FROM t").fetchone()[0]
        result = await lite_db.execute(f'SELECT count(*) FROM "{lite["physical_table_name"]}"')
        return result.first()[0]

    timings: dict = {key: [] for key in contenders}
    for run in range(args.runs):
        for key in rotated(list(contenders), run):
            await empty()
            start = time.perf_counter()
            await contenders[key]()
            timings[key].append(time.perf_counter() - start)
            assert await stored(key) == len(values), key
    await empty()
    count = len(values)
    print(f"\n{count:,} rows, 6 fields; median of {args.runs} interleaved runs\n")
    print(f"{'engine':<9} {'contender':<30} {'rows/s':>10} {'min-max rows/s':>18} {'vs floor':>9}")
    for engine in ("postgres", "sqlite"):
        keys = [k for k in contenders if k[0] == engine]
        rates = {k: count / statistics.median(timings[k]) for k in keys}
        anchor = rates[keys[0]]
        for key in keys:
            spread = "-".join(f"{count / t:,.0f}" for t in (max(timings[key]), min(timings[key])))
            print(
                f"{engine:<9} {key[1]:<30} {rates[key]:>10,.0f} {spread:>18}"
                f" {rates[key] / anchor:>8.0%}"
            )
        csv_rate = rates.get((engine, "import CSV"))
        for fmt in ("NDJSON", "JSON array"):
            if csv_rate and (engine, f"import {fmt}") in rates:
                print(f"  {engine} {fmt} vs CSV: {rates[(engine, f'import {fmt}')] / csv_rate:.0%}")


# Peak RSS --------------------------------------------------------------------------------


async def one_import(count: int, fmt: str) -> None:
    from bench_validator import SCHEMA
    from datasette_test import Datasette

    with tempfile.TemporaryDirectory() as tmp:
        datasette = Datasette(
            plugin_config={"datasette-dataservice": {"data_dir": tmp, "rate_limits": False}}
        )
        datasette.root_enabled = True
        await datasette.invoke_startup()
        headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
        await datasette.client.post("/-/apps", json={"name": "bench"}, headers=headers)
        await datasette.client.post(
            "/-/apps/bench/datasources",
            json={"name": "s", "provider_type": "flat_table"},
            headers=headers,
        )
        await datasette.client.post(
            "/-/apps/bench/datasources/s/datatables",
            json={"name": "t", "json_schema": SCHEMA},
            headers=headers,
        )
        service = service_for(datasette)
        datatable = await service.datatable("", "bench", "s", "t")

        async def generated():
            for start in range(0, count, 10_000):
                part = make_rows(min(10_000, count - start), seed=start)
                for i, row in enumerate(part):
                    row["id"] = start + i + 1
                if fmt == "csv":
                    text = as_csv(part)
                    yield text if start == 0 else text.split(b"\n", 1)[1]
                else:
                    yield "".join(json.dumps(r) + "\n" for r in part).encode()

        status = await import_rows(service, datatable, generated(), format=fmt, actor="b")
        assert status.state == "done" and status.rows_written == count, status.error
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": count, "format": fmt, "peak_rss_mb": round(peak, 1)}))


def rss() -> None:
    for fmt in ("csv", "ndjson"):
        peaks = {}
        for count in (100_000, 2_000_000):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(count), "--format", fmt],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            peaks[count] = json.loads(out.strip().splitlines()[-1])["peak_rss_mb"]
        ratio = peaks[2_000_000] / peaks[100_000]
        print(
            f"{fmt}: peak RSS 100k rows {peaks[100_000]} MB, 2M rows {peaks[2_000_000]} MB:"
            f" {ratio:.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", default=DSN)
    parser.add_argument("--rss", action="store_true")
    parser.add_argument("--only", help="comma-separated words: only contenders naming one")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        asyncio.run(one_import(arguments.one, arguments.format))
    elif arguments.rss:
        rss()
    else:
        asyncio.run(main(arguments))
