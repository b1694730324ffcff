"""``datasette dataservice ...``: commands that work on a data directory without a server."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import click

from ..config import PLUGIN_NAME
from ..errors import DataServiceError


def _secret(data_dir: Path) -> str:
    """A signing secret kept in the data directory, so tokens survive restarts."""
    path = data_dir / ".secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@click.group(name="dataservice")
def dataservice():
    """The data service: apps, datasources and datatables on Frictionless Table Schemas."""


def run_with_service(data_dir: str, work):
    """Run ``await work(service)`` on a Datasette over DATA_DIR, with no server."""
    from datasette.app import Datasette

    from ..service.core import service_for

    config = {"plugins": {PLUGIN_NAME: {"data_dir": str(Path(data_dir).resolve())}}}

    async def run():
        datasette = Datasette(config=config)
        await datasette.invoke_startup()
        try:
            return await work(service_for(datasette))
        finally:
            datasette.close()

    try:
        return asyncio.run(run())
    except DataServiceError as error:
        raise click.ClickException("; ".join(error.errors)) from error


from . import catalog, demo, transfer  # noqa: E402, F401  (they add their commands)
