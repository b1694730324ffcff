"""Scale-out (issue 15): one node against two nodes behind haproxy, the same read+write mix.

Run: python benchmarks/bench_nodes.py [--catalog sqlite|postgres|compare] [--data ...]
                                      [--mix mixed|reads] [--seconds 8] [--rounds 3]
                                      [--concurrency 8]

Configurations, each started with tests/nodes.py (real ``datasette serve`` processes, rate
limits off, the same secret), measured in one run:

- ``--catalog compare`` (issue 15's run): one node with the SQLite catalog, one node with
  the Postgres catalog, and two nodes with the Postgres catalog behind haproxy; the data is
  on Postgres in all three (``--data postgres``), so only the catalog and the node count differ;
- ``--catalog sqlite|postgres``: ``1 node`` (requests straight to the node) against ``2 nodes
  + haproxy`` (round-robin), with that catalog. With the SQLite catalog each node has its own
  data directory and its own copy of the app (seeded on every node through the API): what two
  processes serve, not a shared service.

The mix, chosen per request from a fixed-seed random sequence (the same for every
configuration): ``table`` core's table JSON of the datatable (``/{db}/{table}.json?_size=50``),
``datatable`` the service's datatable read, ``apps`` the app listing, ``insert`` one row
through core's ``/-/insert`` (validated by the plugin), as root.

Each measurement runs ``--concurrency`` asyncio workers over keep-alive connections for
``--seconds``; rounds rotate the configuration order. The table prints the median requests/s
across rounds, p50/p99 latency (ms) and the ratio to ``1 node``. Any answer that is not 2xx
stops the run. The load generator runs in this process on the same machine as the nodes:
on 2 cores it competes with them for CPU, which caps what a second node can add.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from nodes import HAPROXY, Cluster, nodes  # noqa: E402

POSTGRES_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "score", "type": "number"},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}
SEED_ROWS = 1000
MIXES = {
    "mixed": {"table": 4, "datatable": 2, "apps": 2, "insert": 2},  # weights
    "reads": {"table": 4, "datatable": 2, "apps": 2},
}
MIX = dict(MIXES["mixed"])  # the one measured (--mix)
ids = itertools.count(10_000_000)  # inserted rows' ids: unique across configurations


def row(i: int) -> dict:
    return {"id": i, "name": f"name {i}", "score": i * 1.5, "created_at": "2024-01-02T03:04:05Z"}


@dataclass
class Setup:
    label: str
    count: int  # nodes
    balanced: bool
    catalog: str = "sqlite"
    cluster: Cluster | None = None
    target: str = ""  # where the requests go
    paths: dict[str, str] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)


def configuration(catalog_engine: str, data: str, prefix: str) -> tuple[dict, dict | None]:
    config: dict = {"rate_limits": False}
    if "postgres" in (catalog_engine, data):
        config["postgres"] = {"main": {"dsn": POSTGRES_DSN, "schema_prefix": prefix}}
    catalog = {"engine": "postgres", "connection": "main"} if catalog_engine == "postgres" else None
    return config, catalog


def setups_for(args) -> list[Setup]:
    if args.catalog == "compare":
        return [
            Setup("1 node, SQLite catalog", 1, False, "sqlite"),
            Setup("1 node, Postgres catalog", 1, False, "postgres"),
            Setup("2 nodes + haproxy, Postgres catalog", 2, True, "postgres"),
        ]
    return [
        Setup("1 node", 1, False, args.catalog),
        Setup("2 nodes + haproxy", 2, True, args.catalog),
    ]


def seed(cluster: Cluster, data_engine: str) -> dict[str, str]:
    """App ``bench``, datasource ``d``, datatable ``t`` with SEED_ROWS rows, on every node that
    does not serve it yet (with a shared catalog: the first node only)."""
    base = "/-/apps/bench/datasources/d/datatables/t"
    paths = {}
    for node in cluster.nodes:
        existing = node.get(base + ".json", actor="root")
        if existing.status_code == 200:
            table = existing.json()
        else:
            steps = (
                ("/-/apps", {"name": "bench"}),
                (
                    "/-/apps/bench/datasources",
                    {
                        "name": "d",
                        "provider_type": "flat_table",
                        "provider_config": {"engine": data_engine},
                    },
                ),
                ("/-/apps/bench/datasources/d/datatables", {"name": "t", "json_schema": SCHEMA}),
            )
            for path, body in steps:
                answer = node.post(path, json=body, actor="root")
                assert answer.status_code == 201, (path, answer.status_code, answer.text[:300])
            table = answer.json()
            insert = f"/{table['database']}/{table['table']}/-/insert"
            for start in range(1, SEED_ROWS + 1, 100):
                rows = [row(i) for i in range(start, start + 100)]
                answer = node.post(insert, json={"rows": rows}, actor="root")
                assert answer.status_code == 201, answer.text[:300]
        paths = {
            "table": f"/{table['database']}/{table['table']}.json?_size=50",
            "datatable": base + ".json",
            "apps": "/-/apps.json",
            "insert": f"/{table['database']}/{table['table']}/-/insert",
        }
    return paths


async def measure(setup: Setup, seconds: float, concurrency: int, token: str) -> None:
    operations = random.Random(15).choices(list(MIX), weights=list(MIX.values()), k=1_000_000)
    position = itertools.count()
    latencies: dict[str, list[float]] = {name: [] for name in MIX}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=setup.target, headers=headers, limits=limits, timeout=60
    ) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> int:
            done = 0
            while time.perf_counter() < deadline:
                name = operations[next(position) % len(operations)]
                started = time.perf_counter()
                if name == "insert":
                    answer = await client.post(setup.paths[name], json={"row": row(next(ids))})
                else:
                    answer = await client.get(setup.paths[name])
                latencies[name].append(time.perf_counter() - started)
                if not answer.is_success:
                    raise RuntimeError(f"{setup.label} {name}: {answer.status_code} {answer.text}")
                done += 1
            return done

        started = time.perf_counter()
        done = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
        setup.rates.append(done / (time.perf_counter() - started))
    for name, values in latencies.items():
        setup.latencies.setdefault(name, []).extend(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0


def report(setups: list[Setup], args) -> None:
    baseline = statistics.median(setups[0].rates)
    print(
        f"\ncatalog {args.catalog}, data {args.data}, {args.concurrency} workers, "
        f"{args.rounds} x {args.seconds:g} s, mix {dict(MIX)}, {os.cpu_count()} cores\n"
    )
    print("| configuration | requests/s | ratio | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for setup in setups:
        rate = statistics.median(setup.rates)
        every = [v for values in setup.latencies.values() for v in values]
        print(
            f"| {setup.label} | {rate:,.0f} | {rate / baseline:.2f}x "
            f"| {percentile(every, 0.5):.1f} | {percentile(every, 0.99):.1f} |"
        )
    print("\np50 ms per operation:")
    print("| configuration | " + " | ".join(MIX) + " |")
    print("|---|" + "---|" * len(MIX))
    for setup in setups:
        cells = " | ".join(f"{percentile(setup.latencies[name], 0.5):.1f}" for name in MIX)
        print(f"| {setup.label} | {cells} |")


def drop_postgres(prefix: str) -> None:
    """Drop what this run made on Postgres: databases (one per datasource), schemas, roles."""
    import psycopg

    like = (prefix + "%",)
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        query = "SELECT datname FROM pg_database WHERE datname LIKE %s"
        for (database,) in conn.execute(query, like).fetchall():
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        query = "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s"
        for (schema,) in conn.execute(query, like).fetchall():
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", like):
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
            conn.execute(f'DROP ROLE "{role}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", choices=["sqlite", "postgres", "compare"], default="compare")
    parser.add_argument("--mix", choices=list(MIXES), default="mixed")
    parser.add_argument("--data", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    args.data = args.data or ("postgres" if args.catalog == "compare" else args.catalog)
    MIX.clear()
    MIX.update(MIXES[args.mix])
    if not (shutil.which(HAPROXY) or shutil.which(HAPROXY, path="/usr/sbin:/sbin")):
        sys.exit(f"{HAPROXY} is missing (apt-get install haproxy)")
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    setups = setups_for(args)
    with tempfile.TemporaryDirectory(prefix="bench_nodes") as tmp, ExitStack() as stop:
        if "postgres" in (args.catalog, args.data):
            stop.callback(drop_postgres, prefix)
        for number, setup in enumerate(setups):
            config, catalog = configuration(setup.catalog, args.data, f"{prefix}{number}_")
            directory = Path(tmp) / f"setup{number}"
            cluster = nodes(setup.count, config, catalog=catalog, directory=directory,
                            balancer=setup.balanced)  # fmt: skip
            setup.cluster = stop.enter_context(cluster)
            setup.paths = seed(setup.cluster, args.data)
            entry = setup.cluster.balancer if setup.balanced else setup.cluster.node(0)
            setup.target = entry.base
        token = setups[0].cluster.token("root")
        for round_number in range(args.rounds):
            shift = round_number % len(setups)
            for setup in setups[shift:] + setups[:shift]:
                asyncio.run(measure(setup, args.seconds, args.concurrency, token))
        report(setups, args)
        served = {node.name: node.served("HTTP/1.1") for node in setups[-1].cluster.nodes}
        print(f"\nrequests each node behind haproxy answered (seeding included): {served}")


if __name__ == "__main__":
    main()
