"""Several real ``datasette serve`` nodes behind haproxy, for the multi-node tests (issue 15).

    with nodes(2, {"rate_limits": {"storage": REDIS_URL}}) as cluster:
        cluster.node(0).post("/-/apps", json={"name": "shop"}, actor="root")
        cluster.node(1).get("/-/apps/shop.json", actor="root")
        cluster.balancer.get("/-/apps.json", actor="root")
        cluster.node(0).kill()           # SIGKILL, as a crash would
        cluster.node(0).restart()        # same port, data directory and configuration

Every node runs the project's plugin with the same plugin configuration (``config``, plus
``catalog`` when given, plus its ``data_dir``), the same ``DATASETTE_SECRET`` and its own
data directory (``shared_data_dir=True``: one for all). Nodes run without ``--root``, as a
deployment would: the configuration's ``permissions`` block grants the actor ``root`` every
action, so a token or cookie for ``root`` works on every node. ``actor="..."`` on a request
sends a Bearer token for that actor, minted with the cluster's secret.

A node's output goes to ``{directory}/node{i}.log`` (unbuffered, appended to on restart):
``node.served(text)`` counts the access-log lines naming ``text``, which is how a test tells
which node answered a request sent through the load balancer.

The load balancer (``balancer=True``, the default) is haproxy, round-robin over the nodes,
health-checking ``/-/versions.json``; a request sent to a node that does not accept
connections is retried on another. Where haproxy is missing, ``require_haproxy()`` skips the
test (fails it under ``CI=true``; scripts/test.sh installs it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from live_server import free_port, launch, stop, wait_until_answers

from datasette_dataservice.permissions import ACTIONS, VIEW_APP

SECRET = "nodes-test-secret"
HAPROXY = os.environ.get("HAPROXY", "haproxy")
HEALTH_CHECK = "/-/versions.json"
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "nodes"
EXAMPLE_HAPROXY = EXAMPLES / "haproxy.cfg"  # the README's, used as it is for two nodes
# What root may do on every node: the actions Datasette and the plugin deny by default (a
# permissions block allows exactly whom it names, so the actions everyone has stay out of it).
CORE_WRITE_ACTIONS = [
    "insert-row", "update-row", "delete-row", "create-table", "alter-table", "set-column-type",
    "drop-table", "permissions-debug", "debug-menu",
]  # fmt: skip
ROOT_ACTIONS = [*CORE_WRITE_ACTIONS, *(a.name for a in ACTIONS if a.name != VIEW_APP)]
ROOT_PERMISSIONS = {action: {"id": "root"} for action in ROOT_ACTIONS}
TOKEN = re.compile(r"dstok_[A-Za-z0-9_.\-]+")


def require_haproxy() -> str:
    """haproxy's path; skips the test where it is missing (fails it under CI=true)."""
    import pytest

    found = shutil.which(HAPROXY) or shutil.which(HAPROXY, path="/usr/sbin:/sbin")
    if found is None:
        reason = f"{HAPROXY} is missing (apt-get install haproxy)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"multi-node tests must run in CI: {reason}")
        pytest.skip(reason)
    return found


class Endpoint:
    """Something HTTP requests go to: a node or the load balancer."""

    def __init__(self, cluster: Cluster, base: str):
        self.cluster = cluster
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=60)

    def request(self, method: str, path: str, *, actor: str | None = None, **kwargs):
        """``actor``: sent with a Bearer token for that actor (the cluster's secret)."""
        if actor is not None:
            kwargs["headers"] = {**self.cluster.auth(actor), **kwargs.get("headers", {})}
        return self.client.request(method, path, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.client.close()


class Node(Endpoint):
    """One ``datasette serve`` process: kill it, restart it, read what it served."""

    def __init__(self, cluster: Cluster, index: int, config_path: Path, log: Path):
        self.index = index
        self.name = f"node{index}"
        self.port = free_port()
        self.config_path = config_path
        self.log = log
        self.process: subprocess.Popen | None = None
        super().__init__(cluster, f"http://127.0.0.1:{self.port}")

    def start(self) -> None:
        """Start the process (without waiting: see ``wait_until_ready``)."""
        arguments = ["-p", str(self.port), "-c", str(self.config_path)]
        with self.log.open("a") as output:
            self.process = launch(arguments, self.cluster.secret, output)

    def wait_until_ready(self) -> None:
        try:
            wait_until_answers(self.base, self.process)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; its log ends:\n{self.log_tail()}") from None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        self.process.kill()
        self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start again (after ``kill`` or ``stop``) on the same port with the same
        configuration and data directory; returns once it answers."""
        if self.alive:
            self.stop()
        self.client.close()  # its pooled connections went to the old process
        self.client = httpx.Client(base_url=self.base, timeout=60)
        self.start()
        self.wait_until_ready()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def served(self, text: str) -> int:
        """How many requests whose access-log line contains ``text`` this node answered."""
        return sum(1 for line in self.log_lines() if ' - "' in line and text in line)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_lines()[-lines:])


class Balancer(Endpoint):
    """haproxy in front of the nodes, round-robin with health checks."""

    def __init__(self, cluster: Cluster, directory: Path, executable: str):
        self.port = free_port()
        self.socket = directory / "haproxy.sock"
        self.config_path = directory / "haproxy.cfg"
        self.log = directory / "haproxy.log"
        self.executable = executable
        self.process: subprocess.Popen | None = None
        super().__init__(cluster, f"http://127.0.0.1:{self.port}")

    def configuration(self) -> str:
        servers = "\n".join(
            f"    server {node.name} 127.0.0.1:{node.port} check" for node in self.cluster.nodes
        )
        return f"""global
    maxconn 512
    stats socket {self.socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s  # a long rebuild answers late
    # a node that refuses the connection (killed) is retried on another one
    retries 3
    option redispatch 1
    option forwardfor

frontend entry
    bind 127.0.0.1:{self.port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET {HEALTH_CHECK}
    http-check expect status 200
    default-server inter 300ms fall 2 rise 1
{servers}
"""

    def start(self) -> None:
        """Two nodes: the README's example configuration as it is (its addresses come from
        the environment); any other number: the same configuration, written out."""
        addresses = {f"NODE{node.index}": f"127.0.0.1:{node.port}" for node in self.cluster.nodes}
        environment = {**os.environ, **addresses, "BIND": f"127.0.0.1:{self.port}"}
        environment["STATS"] = str(self.socket)
        if len(self.cluster.nodes) == 2:
            config_path = EXAMPLE_HAPROXY
        else:
            config_path = self.config_path
            config_path.write_text(self.configuration())
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [self.executable, "-db", "-f", str(config_path)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        self.wait_until(lambda states: all(s == "UP" for s in states.values()))

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def states(self) -> dict[str, str]:
        """Each node's state as haproxy sees it: ``{"node0": "UP", "node1": "DOWN"}``."""
        with socket.socket(socket.AF_UNIX) as stats:
            stats.settimeout(5)
            stats.connect(str(self.socket))
            stats.sendall(b"show stat\n")
            answer = b""
            while chunk := stats.recv(65536):
                answer += chunk
        rows = csv.DictReader(answer.decode().lstrip("# ").splitlines())
        return {
            row["svname"]: row["status"].split()[0]
            for row in rows
            if row.get("pxname") == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_until(self, condition, timeout: float = 30) -> dict[str, str]:
        """Wait until ``condition(states())`` holds; returns the states."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log.read_text()}")
            try:
                states = self.states()
                if states and condition(states):
                    return states
            except OSError:
                states = None  # the stats socket is not there yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy never saw the nodes as wanted: {states}")
            time.sleep(0.05)

    def wait_until_state(self, node: Node, state: str) -> None:
        """Wait until haproxy sees ``node`` as ``state`` ("UP" or "DOWN")."""
        self.wait_until(lambda states: states.get(node.name) == state)


@dataclass
class Cluster:
    directory: Path
    secret: str
    nodes: list[Node] = field(default_factory=list)
    balancer: Balancer | None = None
    cleanup: ExitStack = field(default_factory=ExitStack)  # closed when ``nodes()`` exits
    _tokens: dict[str, str] = field(default_factory=dict)

    def node(self, index: int) -> Node:
        return self.nodes[index]

    def start_balancer(self) -> Balancer:
        """haproxy in front of the nodes (once; ``nodes()`` starts it unless told not to).
        Where haproxy is missing, skips the test (fails it under CI=true)."""
        if self.balancer is None:
            balancer = Balancer(self, self.directory, require_haproxy())
            self.cleanup.callback(balancer.close)
            self.cleanup.callback(balancer.stop)
            balancer.start()
            self.balancer = balancer
        return self.balancer

    def token(self, actor_id: str) -> str:
        """An API token for ``actor_id`` signed with the cluster's secret (minted in process:
        no node is asked)."""
        if actor_id not in self._tokens:
            self._tokens[actor_id] = _in_thread(_datasette(self.secret).create_token(actor_id))
        return self._tokens[actor_id]

    def auth(self, actor_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(actor_id)}"}

    def signed_in(self, actor_id: str) -> dict[str, str]:
        """Headers with the ``ds_actor`` cookie signing in ``actor_id`` on any node, as a
        browser holds it, for pages that refuse tokens (/-/create-token)."""
        cookie = _datasette(self.secret).sign({"a": {"id": actor_id}}, "actor")
        return {"Cookie": f"ds_actor={cookie}"}

    def served(self, text: str) -> list[int]:
        """For each node, how many requests naming ``text`` it answered."""
        return [node.served(text) for node in self.nodes]

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.cleanup.close()


def plugin_configuration(config: dict, catalog: dict | None, data_dir: Path) -> dict:
    plugin = {**config, "data_dir": str(data_dir)}
    if catalog is not None:
        plugin["catalog"] = catalog
    return plugin


@contextmanager
def nodes(
    count: int,
    config: dict | None = None,
    *,
    catalog: dict | None = None,
    directory: Path | None = None,
    secret: str = SECRET,
    shared_data_dir: bool = False,
    balancer: bool = True,
    datasette_config: dict | None = None,
) -> Iterator[Cluster]:
    """``count`` nodes (and haproxy in front unless ``balancer=False``), all stopped on exit.

    ``config``: the plugin's configuration block; ``catalog``: its ``catalog`` entry (issue
    15's shared catalog); ``datasette_config``: more of Datasette's configuration (its keys
    replace the harness's: a ``permissions`` block given replaces the grants to root);
    ``directory``: where data, configuration and logs go (by default a temporary directory,
    removed afterwards).
    """
    if balancer:
        require_haproxy()  # skip before starting anything
    with ExitStack() as cleanup:
        if directory is None:
            directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="nodes")))
        directory.mkdir(parents=True, exist_ok=True)
        cluster = cleanup.enter_context(Cluster(directory, secret))
        for index in range(count):
            data_dir = directory / ("data" if shared_data_dir else f"data{index}")
            configuration = {
                "permissions": ROOT_PERMISSIONS,
                **(datasette_config or {}),
                "plugins": {
                    "datasette-dataservice": plugin_configuration(config or {}, catalog, data_dir)
                },
            }
            config_path = directory / f"node{index}.json"
            config_path.write_text(json.dumps(configuration, indent=2))
            node = Node(cluster, index, config_path, directory / f"node{index}.log")
            cluster.cleanup.callback(node.close)
            cluster.cleanup.callback(node.stop)
            cluster.nodes.append(node)
            node.start()
        for node in cluster.nodes:
            node.wait_until_ready()
        if balancer:
            cluster.start_balancer()
        yield cluster


def _datasette(secret: str):
    from datasette.app import Datasette

    return Datasette(secret=secret)


def _in_thread(coroutine) -> Any:
    """Run ``coroutine`` to completion, whether or not the caller is inside an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# What the multi-node tests share ------------------------------------------------------------

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "n", "type": "integer"},
    ],
    "primaryKey": ["id"],
}


def eventually(check, seconds: float = 10.0):
    """``check()`` until it returns something true (other nodes hear of changes within
    milliseconds; the margin is for a loaded machine); its last answer otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def new_datatable(endpoint, app: str, rows: list[dict] | None = None) -> dict:
    """An app with one Postgres-backed datasource and datatable, made through ``endpoint``."""
    assert endpoint.post("/-/apps", json={"name": app}, actor="root").status_code == 201
    datasource = endpoint.post(
        f"/-/apps/{app}/datasources",
        json={"name": "stock", "provider_type": "flat_table"},
        actor="root",
    )
    assert datasource.status_code == 201, datasource.text
    assert datasource.json()["provider_config"]["engine"] == "postgres"
    created = endpoint.post(
        f"/-/apps/{app}/datasources/stock/datatables",
        json={"name": "items", "json_schema": SCHEMA},
        actor="root",
    )
    assert created.status_code == 201, created.text
    return created.json()


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]
