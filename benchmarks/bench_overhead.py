"""Request-path overhead: tenancy and rate limits on, against the plugin not installed.

Run: python benchmarks/bench_overhead.py [--rounds 5] [--requests 400] [--concurrency 4]

Four ``datasette serve`` processes on 127.0.0.1, each with its own copy of the same files
(a plain SQLite database with a 1,000-row, 6-column table ``t``, and a data directory with
app ``bench``, datasource ``d``, datatable ``t``):

- a: the plugin not installed (``DATASETTE_LOAD_PLUGINS=""``: no plugin is loaded);
- b: the plugin alone (``DATASETTE_LOAD_PLUGINS=datasette-dataservice``), tenancy off and
  rate limits off;
- c: as b with tenancy ``subdomain`` on ``example.com`` and rate limits on, memory storage,
  limits far too high to trigger;
- d: as c with Redis storage (``redis://127.0.0.1:6379/0``).

Every request is sent with ``Host: example.com`` (the default tenant). Each measurement is a
fixed number of GETs from an httpx async client at a fixed concurrency over keep-alive
connections, against core's ``/plain/t.json?_size=100`` (every server) and the data
service's datatable read ``/-/apps/bench/datasources/d/datatables/t.json`` (b, c, d), both
anonymous (readable by default; the rate limits then count per client address). Every round
measures each (server, endpoint) once, in an order rotated round by round; the table prints
medians across rounds of requests/s, p50 and p99 (ms), and the ratio of requests/s to the
baseline: a for the core endpoint, b for the data service endpoint.
Before measuring, each server is checked to have the configuration it is meant to have.
Last, each control is timed alone in process (tenancy middleware; rate limiter on memory and
on Redis), which says what each one costs per request, free of the servers' noise.
The servers are always stopped, and the whole run is bounded in time (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from datasette_test import Datasette

PLUGIN = "datasette-dataservice"
HOST = "example.com"
REDIS = "redis://127.0.0.1:6379/0"
HIGH_LIMIT = "10000000/minute"  # never reached: the cost of counting, not of refusing
CORE_PATH = "/plain/t.json?_size=100"
DS_PATH = "/-/apps/bench/datasources/d/datatables/t.json"
DATASETTE = Path(sys.executable).with_name("datasette")
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
    ],
    "primaryKey": ["id"],
}


async def prepare(tmp: Path) -> None:
    """plain.db with 1,000 rows, and a data dir with one datatable."""
    with sqlite3.connect(tmp / "plain.db") as conn:
        conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, name TEXT NOT NULL,"
            " score REAL, active INTEGER, created_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
            (
                (i, f"user{i}@example.com", f"name {i}", i * 1.5, i % 2, f"2024-01-{i % 28 + 1:02}")
                for i in range(1, 1001)
            ),
        )
    datasette = Datasette(
        plugin_config={PLUGIN: {"data_dir": str(tmp / "data"), "rate_limits": False}},
    )
    datasette.root_enabled = True
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    for path, body in (
        ("/-/apps", {"name": "bench"}),
        ("/-/apps/bench/datasources", {"name": "d", "provider_type": "flat_table"}),
        ("/-/apps/bench/datasources/d/datatables", {"name": "t", "json_schema": SCHEMA}),
    ):
        response = await datasette.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.status_code, response.text[:300])
    datasette.close()


@dataclass
class Server:
    key: str
    label: str
    plugins: str  # DATASETTE_LOAD_PLUGINS
    config: dict | None  # the plugin's configuration block; None: not installed
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path | None = None
    client: httpx.AsyncClient | None = None
    checks: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def servers_for(tmp: Path) -> list[Server]:
    limits = {"default": HIGH_LIMIT, "write": HIGH_LIMIT}
    tenancy = {"mode": "subdomain", "base_domain": HOST}
    return [
        Server("a", "a: plugin not installed", "", None),
        Server("b", "b: plugin, controls off", PLUGIN, {"rate_limits": False}),
        Server(
            "c",
            "c: tenancy + limits (memory)",
            PLUGIN,
            {"tenancy": tenancy, "rate_limits": {**limits, "storage": "memory://"}},
        ),
        Server(
            "d",
            "d: tenancy + limits (Redis)",
            PLUGIN,
            {"tenancy": tenancy, "rate_limits": {**limits, "storage": REDIS}},
        ),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(server: Server, tmp: Path) -> None:
    """A copy of the prepared files per server, so no two processes share a SQLite file."""
    home = tmp / server.key
    home.mkdir()
    shutil.copy(tmp / "plain.db", home / "plain.db")
    args = [str(DATASETTE), "serve", str(home / "plain.db")]
    if server.config is not None:
        shutil.copytree(tmp / "data", home / "data")
        config = {"plugins": {PLUGIN: {"data_dir": str(home / "data"), **server.config}}}
        (home / "datasette.json").write_text(json.dumps(config))
        args += ["-c", str(home / "datasette.json")]
    server.port = free_port()
    args += ["-h", "127.0.0.1", "-p", str(server.port)]
    server.log = home / "server.log"
    env = {**os.environ, "DATASETTE_LOAD_PLUGINS": server.plugins}
    with open(server.log, "wb") as log:
        server.process = subprocess.Popen(
            args, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


async def wait_until_up(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=server.url, headers={"Host": HOST}) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            try:
                if (await client.get("/-/versions.json", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{server.label} did not start on port {server.port}:\n{tail}")


def stop(servers: list[Server]) -> None:
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        if server.process is None:
            continue
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


async def verify(servers: dict[str, Server]) -> None:
    """Each server has the configuration it is meant to have, checked by behaviour."""
    for server in servers.values():
        client = server.client
        plugins = {p["name"] for p in (await client.get("/-/plugins.json")).json()}
        installed = PLUGIN in plugins
        assert installed == (server.config is not None), (server.label, sorted(plugins))
        assert plugins <= {PLUGIN}, (server.label, "other plugins loaded", sorted(plugins))
        core = await client.get(CORE_PATH)
        assert core.status_code == 200 and len(core.json()["rows"]) == 100, server.label
        server.checks.append(f"plugins {sorted(plugins) or 'none'}; core 100 rows")
        tenancy = server.key in ("c", "d")
        other_host = await client.get(CORE_PATH, headers={"Host": "elsewhere.org"})
        assert other_host.status_code == (400 if tenancy else 200), (server.label, other_host)
        server.checks.append(f"Host elsewhere.org -> {other_host.status_code}")
        if not installed:
            listing = await client.get("/-/apps.json")
            assert listing.status_code == 404, (server.label, listing.status_code)
            server.checks.append("no /-/apps route (404)")
            continue
        apps = await client.get(DS_PATH)
        assert apps.status_code == 200 and apps.json()["name"] == "t", (server.label, apps.text)
        limit = apps.headers.get("X-RateLimit-Limit")
        assert limit == (str(int(HIGH_LIMIT.split("/")[0])) if tenancy else None), (
            server.label,
            dict(apps.headers),
        )
        server.checks.append("datatable 200")
        server.checks.append(f"X-RateLimit-Limit {limit}")
    # Redis storage: a request to d adds one entry to the limiter's window in Redis
    before = await redis_window()
    assert (await servers["d"].client.get(DS_PATH)).status_code == 200
    after = await redis_window()
    assert after == before + 1, ("Redis window did not move", before, after)
    servers["d"].checks.append(f"Redis window {before} -> {after} entries")


async def redis_window() -> int:
    """Entries in the moving window Redis holds for this client's address at HIGH_LIMIT."""
    import coredis  # the async Redis client the limits library uses

    redis = coredis.Redis.from_url(REDIS, decode_responses=True)
    amount = HIGH_LIMIT.split("/")[0]
    total = 0
    async for key in redis.scan_iter(match=f"{PLUGIN}*ip:127.0.0.1*"):
        if f"/{amount}/" in key and key.split("/")[1] == "default":
            total += await redis.llen(key)
    return total


async def measure(client, path, count, concurrency) -> tuple[float, list[float]]:
    """``count`` GETs of ``path`` from ``concurrency`` workers: (requests/s, latencies)."""
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker():
        for _ in remaining:
            start = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start), latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


async def run(args, tmp: Path, servers: list[Server]) -> None:
    await prepare(tmp)
    for server in servers:
        start(server, tmp)
    await asyncio.gather(*(wait_until_up(s, args.startup_timeout) for s in servers))
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    for server in servers:
        server.client = httpx.AsyncClient(
            base_url=server.url, headers={"Host": HOST}, limits=limits, timeout=30
        )
    by_key = {server.key: server for server in servers}
    try:
        await verify(by_key)
        for server in servers:
            print(f"{server.label:<30} port {server.port}: {'; '.join(server.checks)}")
        endpoints = {"core": CORE_PATH, "data service": DS_PATH}
        pairs = [(s, "core") for s in servers] + [(s, "data service") for s in servers[1:]]
        for server, endpoint in pairs:  # warm-up: connections, caches, code paths
            await measure(server.client, endpoints[endpoint], args.requests // 4, args.concurrency)
        results: dict[tuple[str, str], list[tuple[float, list[float]]]] = {}
        for round_ in range(args.rounds):
            shift = round_ % len(pairs)
            for server, endpoint in pairs[shift:] + pairs[:shift]:
                results.setdefault((server.key, endpoint), []).append(
                    await measure(
                        server.client, endpoints[endpoint], args.requests, args.concurrency
                    )
                )
    finally:
        for server in servers:
            await server.client.aclose()
    report(args, servers, results)


def report(args, servers: list[Server], results) -> None:
    print(
        f"\n{args.requests} GETs per measurement at concurrency {args.concurrency}; medians of"
        f" {args.rounds} interleaved rounds; Host: {HOST}\n"
    )
    header = (
        f"{'endpoint':<13} {'server':<30} {'req/s':>7} {'min-max req/s':>14}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'req/s vs base':>14} {'p50 vs base':>12}"
    )
    print(header)
    print("-" * len(header))
    for endpoint, base in (("core", "a"), ("data service", "b")):
        base_runs = results[(base, endpoint)]
        for server in servers:
            runs = results.get((server.key, endpoint))
            if runs is None:
                continue
            rates = [rate for rate, _ in runs]
            p50s = [statistics.median(lat) for _, lat in runs]
            # ratios within each round, then their median: slow drift cancels out
            rate_ratio = statistics.median(
                r / b for r, (b, _) in zip(rates, base_runs, strict=True)
            )
            p50_ratio = statistics.median(
                p / statistics.median(b) for p, (_, b) in zip(p50s, base_runs, strict=True)
            )
            spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
            print(
                f"{endpoint:<13} {server.label:<30} {statistics.median(rates):>7,.0f}"
                f" {spread:>14} {statistics.median(p50s) * 1000:>7.2f}"
                f" {statistics.median(p99(lat) for _, lat in runs) * 1000:>7.2f}"
                f" {rate_ratio:>13.2f}x {p50_ratio:>11.2f}x"
            )
    print(
        "\nvs base: median over rounds of the same round's ratio to the plugin not installed"
        " (core) or to the plugin with both controls off (data service); target: requests/s"
        " at least 0.95x"
    )


async def control_costs(calls: int) -> None:
    """Each control alone, in process: what it adds to one request, in microseconds.

    The loop runs once between calls, as it does between requests in a server, so work a
    control leaves to the loop (the memory storage's expiry task and its thread) counts.
    """
    from datasette.utils.asgi import Request

    from datasette_dataservice.config import RateLimits, Tenancy
    from datasette_dataservice.tenancy import middleware
    from datasette_dataservice.web.ratelimit import RateLimiter

    client = f"10.{os.getpid() % 250}.{int(time.time()) % 250}.1"  # a window of its own
    scope = {
        "type": "http",
        "method": "GET",
        "client": (client, 1),
        "headers": [(b"host", HOST.encode())],
        "path": "/plain/t.json",
        "query_string": b"_size=100",
    }

    async def timed(call) -> float:
        for _ in range(calls // 10):  # warm-up
            await call()
        start = time.perf_counter()
        for _ in range(calls):
            await call()
            await asyncio.sleep(0)
        return (time.perf_counter() - start) / calls * 1e6

    async def app(scope, receive, send):
        return None

    class Instance:  # what the middleware reads of Datasette: the database names
        databases = dict.fromkeys(["plain", "_dataservice", "bench_d"])

    tenancy = middleware(Instance(), app, Tenancy("subdomain", HOST), {"bench_d"})
    nothing = await timed(lambda: app(scope, None, None))
    costs = {
        "tenancy (Host -> tenant, hidden databases)": await timed(
            lambda: tenancy(scope, None, None)
        )
        - nothing
    }
    for storage in ("memory://", REDIS):
        limiter = RateLimiter(RateLimits(default=HIGH_LIMIT, write=HIGH_LIMIT, storage=storage))
        request = Request(scope, None)
        costs[f"rate limit, {storage} (hit + window stats)"] = (
            await timed(lambda limiter=limiter, request=request: limiter.meter(request)) - nothing
        )
    print(f"\nEach control alone, in process, per request (mean of {calls:,} calls)\n")
    for name, micros in costs.items():
        print(f"{name:<58} {micros:>8.1f} us")


async def main(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        servers = servers_for(tmp)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        try:
            await asyncio.wait_for(run(args, tmp, servers), timeout=args.timeout)
        finally:
            stop(servers)
    await asyncio.wait_for(control_costs(args.calls), timeout=300)
    print(f"\nload average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400, help="per measurement")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--calls", type=int, default=2000, help="per control, in process")
    parser.add_argument("--startup-timeout", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=900, help="for the whole run")
    asyncio.run(main(parser.parse_args()))
