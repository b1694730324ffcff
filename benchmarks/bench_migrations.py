"""Schema change timings: add and rename are O(1); a type change reports rows/s.

Run: python benchmarks/bench_migrations.py [--large 1000000] [--runs 3]

For each provider, the same datatable is filled with a small and a large number of rows
(written straight into the physical table), then fields are added and renamed through the
HTTP API, interleaving sizes run by run; the table prints medians and the large/small ratio
(about 1.0 means the cost does not grow with the table). A type change (integer -> number)
on the large flat_table rebuilds it and is reported in rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from datasette_test import Datasette

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "score", "type": "integer"},
    ],
    "primaryKey": ["id"],
}


async def setup(data_dir: Path, provider: str, rows: int):
    datasette = Datasette(
        plugin_config={"datasette-dataservice": {"data_dir": str(data_dir), "rate_limits": False}}
    )
    datasette.root_enabled = True
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    client = datasette.client
    await client.post("/-/apps", json={"name": "bench"}, headers=headers)
    await client.post(
        "/-/apps/bench/datasources",
        json={"name": "d", "provider_type": provider},
        headers=headers,
    )
    created = (
        await client.post(
            "/-/apps/bench/datasources/d/datatables",
            json={"name": "t", "json_schema": SCHEMA},
            headers=headers,
        )
    ).json()
    path = data_dir / f"{created['database']}.db"
    table = created["physical_table_name"]
    with sqlite3.connect(path) as conn:
        if provider == "flat_table":
            conn.executemany(
                f'INSERT INTO "{table}" VALUES (?, ?, ?)',
                ((i, f"name {i}", i % 1000) for i in range(rows)),
            )
        else:
            conn.executemany(
                f'INSERT INTO "{table}" (data) VALUES (?)',
                ((f'{{"id": {i}, "name": "name {i}", "score": {i % 1000}}}',) for i in range(rows)),
            )
    return datasette, headers


async def timed_put(datasette, headers, schema, **body) -> float:
    start = time.perf_counter()
    response = await datasette.client.put(
        "/-/apps/bench/datasources/d/datatables/t",
        json={"json_schema": schema, **body},
        headers=headers,
    )
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed


async def add_and_rename(datasette, headers, run: int) -> tuple[float, float]:
    current = (
        await datasette.client.get(
            "/-/apps/bench/datasources/d/datatables/t/schema.json", headers=headers
        )
    ).json()
    added = copy.deepcopy(current)
    added["fields"].append({"name": f"extra_{run}", "type": "string"})
    add = await timed_put(datasette, headers, added)
    renamed = copy.deepcopy(added)
    renamed["fields"][-1]["name"] = f"renamed_{run}"
    rename = await timed_put(
        datasette, headers, renamed, renames={f"extra_{run}": f"renamed_{run}"}
    )
    return add, rename


async def main(large: int, runs: int) -> None:
    sizes = {"1k": 1_000, "large": large}
    results: dict[tuple[str, str, str], list[float]] = {}
    instances = {}
    with tempfile.TemporaryDirectory() as tmp:
        for provider in ("flat_table", "jsonb"):
            for label, rows in sizes.items():
                instances[(provider, label)] = await setup(
                    Path(tmp) / f"{provider}-{label}", provider, rows
                )
        for run in range(runs):  # interleaved: every size and provider in each run
            for (provider, label), (datasette, headers) in instances.items():
                add, rename = await add_and_rename(datasette, headers, run)
                results.setdefault((provider, "add field", label), []).append(add)
                results.setdefault((provider, "rename field", label), []).append(rename)
        print(f"\nSchema changes, median of {runs} runs (ms); large = {large:,} rows\n")
        print(f"{'provider':<11} {'operation':<13} {'1k rows':>10} {'large':>10} {'large/1k':>9}")
        for provider in ("flat_table", "jsonb"):
            for operation in ("add field", "rename field"):
                small = statistics.median(results[(provider, operation, "1k")]) * 1000
                big = statistics.median(results[(provider, operation, "large")]) * 1000
                ratio = big / small
                print(f"{provider:<11} {operation:<13} {small:>10.1f} {big:>10.1f} {ratio:>9.2f}")
        datasette, headers = instances[("flat_table", "large")]
        schema = (
            await datasette.client.get(
                "/-/apps/bench/datasources/d/datatables/t/schema.json", headers=headers
            )
        ).json()
        schema["fields"][2]["type"] = "number"
        seconds = await timed_put(datasette, headers, schema)
        print(
            f"\nType change integer -> number on {large:,} flat_table rows (dry-run check,"
            f" rebuild, cast): {seconds:.2f} s, {large / seconds:,.0f} rows/s"
        )
        for datasette, _ in instances.values():
            datasette.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.large, arguments.runs))
