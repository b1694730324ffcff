"""``datasette dataservice demo``: seed the demo app and serve it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click
from datasette.utils import StartupError

from ..config import PLUGIN_NAME
from . import _secret, dataservice


@dataservice.command()
@click.option("--data-dir", default="dataservice-data", show_default=True, type=click.Path())
@click.option("-m", "--metadata", type=click.Path(exists=True), help="metadata.yml to serve")
@click.option("-h", "--host", default="127.0.0.1", show_default=True)
@click.option("-p", "--port", default=8001, show_default=True, type=int)
def demo(data_dir: str, metadata: str | None, host: str, port: int):
    """Seed a demo app in DATA_DIR (first run only), then serve it with root access."""
    from datasette.app import Datasette

    from ..demo import seed_demo

    data_path = Path(data_dir).resolve()
    secret = _secret(data_path)
    config = {"plugins": {PLUGIN_NAME: {"data_dir": str(data_path)}}}

    async def prepare() -> tuple[bool, str]:
        datasette = Datasette(config=config, secret=secret)
        datasette.root_enabled = True
        await datasette.invoke_startup()
        try:
            created = await seed_demo(datasette)
            return created, await datasette.create_token("root")
        finally:
            datasette.close()

    try:
        created, token = asyncio.run(prepare())
    except StartupError as error:  # e.g. a server holds the data directory
        raise click.ClickException(str(error)) from error
    base = f"http://{host}:{port}"
    click.echo(
        f"{'Seeded' if created else 'Found'} the demo app in {data_path}\n"
        f"  Apps:       {base}/-/apps\n"
        f"  JSON API:   curl -H 'Authorization: Bearer {token}' {base}/api/apps/\n"
        f"  Table data: {base}/demo_users-db/demo_users\n"
        "Sign in as root with the URL Datasette prints below.",
        err=True,
    )
    args = [sys.executable, "-m", "datasette", "serve", "--root", "-h", host, "-p", str(port)]
    args += ["-s", f"plugins.{PLUGIN_NAME}.data_dir", str(data_path)]
    args += ["--setting", "default_allow_sql", "on"]
    if metadata:
        args += ["--metadata", metadata]
    os.execve(sys.executable, args, {**os.environ, "DATASETTE_SECRET": secret})
