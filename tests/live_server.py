"""A real `datasette serve` with the plugin, on a free local port, for end-to-end tests.

The launch helpers here (``launch``, ``wait_until_answers``, ``stop``, ``token_for``) are
shared with tests/nodes.py, which starts several such servers behind a load balancer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

DATASETTE_SERVE = [sys.executable, "-m", "datasette", "serve"]


@dataclass
class LiveServer:
    process: subprocess.Popen
    base: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(arguments: list[str], secret: str, output: IO | int = subprocess.DEVNULL):
    """Start ``datasette serve ARGUMENTS`` signing with ``secret``; its output (unbuffered,
    so a log read during the test is complete) goes to ``output``."""
    return subprocess.Popen(
        [*DATASETTE_SERVE, *arguments],
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DATASETTE_SECRET": secret, "PYTHONUNBUFFERED": "1"},
    )


def wait_until_answers(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``base`` answers; RuntimeError if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(base + "/-/versions.json", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"datasette serve did not start on {base}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process`` (kill it if it does not exit within 10 seconds) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def token_for(actor_id: str, secret: str) -> str:
    """An API token (``dstok_...``) for ``actor_id``, signed with ``secret``."""
    return subprocess.run(
        [sys.executable, "-m", "datasette", "create-token", actor_id, "--secret", secret],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextmanager
def live_server(
    data_dir: Path,
    *settings: tuple[str, str],
    log: Path | None = None,
    config: tuple[tuple[str, str], ...] = (),
):
    """Serve ``data_dir`` with ``-s plugins.datasette-dataservice.KEY VALUE`` settings (and
    ``config``: other ``-s KEY VALUE`` pairs of Datasette's config); yield a LiveServer with a
    root token once it answers; stop it afterwards."""
    secret = "live-server-secret"
    port = free_port()
    arguments = ["--root", "-p", str(port)]
    for key, value in [("data_dir", str(data_dir)), *settings]:
        arguments += ["-s", f"plugins.datasette-dataservice.{key}", value]
    for key, value in config:
        arguments += ["-s", key, value]
    output = log.open("w") if log else subprocess.DEVNULL
    process = launch(arguments, secret, output)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answers(base, process, timeout=30)
        yield LiveServer(process, base, token_for("root", secret))
    finally:
        stop(process)
        if log:
            output.close()


@contextmanager
def postgres_shop(
    data_dir: Path,
    postgres_dsn: str,
    schema_prefix: str,
    table_schema: dict,
    rows: list[dict],
    config: tuple[tuple[str, str], ...] = (),
):
    """A live server with app "shop", its datasource "main" on Postgres and datatable
    "orders" (``table_schema``) holding ``rows``; yields the server and a root client."""
    settings = [
        ("rate_limits.enabled", "false"),
        ("postgres.main.dsn", postgres_dsn),
        ("postgres.main.schema_prefix", schema_prefix),
    ]
    with live_server(data_dir, *settings, config=config) as server:
        client = httpx.Client(base_url=server.base, headers=server.headers, timeout=30)
        assert client.post("/-/apps", json={"name": "shop"}).status_code == 201
        created = client.post(
            "/-/apps/shop/datasources",
            json={
                "name": "main",
                "provider_type": "flat_table",
                "provider_config": {"engine": "postgres"},
            },
        )
        assert created.status_code == 201, created.text
        table = client.post(
            "/-/apps/shop/datasources/main/datatables",
            json={"name": "orders", "json_schema": table_schema},
        )
        assert table.status_code == 201, table.text
        inserted = client.post("/shop_main/shop_orders/-/insert", json={"rows": rows})
        assert inserted.status_code == 201, inserted.text
        yield server, client
