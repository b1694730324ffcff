"""Insert throughput: validated writes against core's unvalidated insert and the SQLite floor.

Run: python benchmarks/bench_inserts.py [--rows 100000] [--runs 3]

Every contender writes the same 100,000-row, 6-field table (integer pk, email, required
string, number with a minimum, boolean, datetime) into an empty table, in one process,
interleaved run by run; medians and ratios are printed. HTTP contenders go through
Datasette's ASGI client in process (the whole HTTP stack but the socket), alike for core
and the data service, with request bodies encoded before the clock starts:

- floor: raw sqlite3 executemany into the same STRICT table;
- core /-/insert on an unmanaged table, at its default 100 rows/request and at 10,000
  (max_insert_rows raised);
- the data service's validated /-/insert on the managed table at 1,000 and 10,000 rows;
- the import endpoint (one CSV upload) and the import function the CLI runs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from datasette_test import Datasette

sys.path.insert(0, str(Path(__file__).parent))
from bench_validator import SCHEMA, make_rows  # noqa: E402

from datasette_dataservice.service.core import service_for  # noqa: E402
from datasette_dataservice.service.importer import import_rows  # noqa: E402

CORE_DDL = (
    "CREATE TABLE core_rows (id INTEGER PRIMARY KEY, email TEXT, name TEXT NOT NULL,"
    " score REAL, active INTEGER, created_at TEXT)"
)


async def prepare(tmp: Path):
    plain = tmp / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute(CORE_DDL)
    datasette = Datasette(
        [str(plain)],
        settings={"max_insert_rows": 10_000},
        plugin_config={
            "datasette-dataservice": {"data_dir": str(tmp / "data"), "rate_limits": False}
        },
    )
    datasette.root_enabled = True
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    await datasette.client.post("/-/apps", json={"name": "bench"}, headers=headers)
    await datasette.client.post(
        "/-/apps/bench/datasources",
        json={"name": "d", "provider_type": "flat_table"},
        headers=headers,
    )
    table = (
        await datasette.client.post(
            "/-/apps/bench/datasources/d/datatables",
            json={"name": "t", "json_schema": SCHEMA},
            headers=headers,
        )
    ).json()
    return datasette, headers, table


async def empty(datasette, table) -> None:
    await datasette.get_database("plain").execute_write("DELETE FROM core_rows")
    await datasette.get_database(table["database"]).execute_write(
        f'DELETE FROM "{table["physical_table_name"]}"'
    )


async def count(datasette, database: str, name: str) -> int:
    return (
        await datasette.get_database(database).execute(f'SELECT count(*) FROM "{name}"')
    ).first()[0]


def encode_batches(rows: list[dict], size: int) -> list[bytes]:
    """Request bodies, encoded once outside the timings: a client's cost, not the server's."""
    return [json.dumps({"rows": rows[i : i + size]}).encode() for i in range(0, len(rows), size)]


async def post_batches(datasette, headers, path: str, bodies: list[bytes]) -> None:
    headers = {**headers, "content-type": "application/json"}
    for body in bodies:
        response = await datasette.client.post(path, content=body, headers=headers)
        assert response.status_code == 201, response.text[:300]


def floor(tmp: Path, rows: list[dict], run: int) -> float:
    path = tmp / f"floor{run}.db"
    conn = sqlite3.connect(path)
    conn.execute(CORE_DDL.replace("core_rows", "t") + " STRICT")
    values = [tuple(r.values()) for r in rows]
    start = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", values)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().replace("True", "true").replace("False", "false").encode()


async def main(count_rows: int, runs: int) -> None:
    rows = make_rows(count_rows)
    upload = as_csv(rows)
    bodies = {size: encode_batches(rows, size) for size in (100, 1_000, 10_000)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        datasette, headers, table = await prepare(tmp)
        managed = f"/{table['database']}/{table['physical_table_name']}/-/insert"
        service = service_for(datasette)

        async def import_function():
            datatable = await service.datatable("", "bench", "d", "t")

            async def chunks():
                for start in range(0, len(upload), 1 << 20):
                    yield upload[start : start + (1 << 20)]

            status = await import_rows(service, datatable, chunks(), format="csv", actor="bench")
            assert status.state == "done", status.error

        async def import_endpoint():
            response = await datasette.client.post(
                "/-/apps/bench/datasources/d/datatables/t/import?format=csv",
                content=upload,
                headers=headers,
            )
            assert response.status_code == 201, response.text[:300]

        contenders = {
            "sqlite3 executemany (floor)": None,
            "core /-/insert, 100 rows/request": (
                "plain",
                "core_rows",
                "/plain/core_rows/-/insert",
                100,
            ),
            "core /-/insert, 10,000 rows/request": (
                "plain",
                "core_rows",
                "/plain/core_rows/-/insert",
                10_000,
            ),
            "validated /-/insert, 1,000 rows/request": (
                table["database"],
                table["physical_table_name"],
                managed,
                1_000,
            ),
            "validated /-/insert, 10,000 rows/request": (
                table["database"],
                table["physical_table_name"],
                managed,
                10_000,
            ),
            "import endpoint (CSV upload)": import_endpoint,
            "import function (the CLI's path)": import_function,
        }
        timings: dict[str, list[float]] = {name: [] for name in contenders}
        for run in range(runs):
            for name, how in contenders.items():
                await empty(datasette, table)
                if how is None:
                    timings[name].append(floor(tmp, rows, run))
                    continue
                start = time.perf_counter()
                if callable(how):
                    await how()
                    database, target = table["database"], table["physical_table_name"]
                else:
                    database, target, path, size = how
                    await post_batches(datasette, headers, path, bodies[size])
                timings[name].append(time.perf_counter() - start)
                assert await count(datasette, database, target) == count_rows, name
        datasette.close()
    rates = {name: count_rows / statistics.median(t) for name, t in timings.items()}
    floor_rate = rates["sqlite3 executemany (floor)"]
    core_10k = rates["core /-/insert, 10,000 rows/request"]
    print(f"\n{count_rows:,} rows, 6 fields; median of {runs} interleaved runs\n")
    print(f"{'contender':<42} {'rows/s':>10} {'vs core 10k':>12} {'vs floor':>9}")
    for name, rate in rates.items():
        print(f"{name:<42} {rate:>10,.0f} {rate / core_10k:>11.2f}x {rate / floor_rate:>8.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.runs))
