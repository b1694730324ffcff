"""``datasette dataservice ...``: commands that work on a data directory without a server."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import click
from datasette.utils import StartupError

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
@click.option(
    "-c",
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    envvar="DATASERVICE_CONFIG",
    help="datasette.yml (or .json) whose plugins.datasette-dataservice block to use, e.g. "
    "for its postgres connections",
)
@click.pass_context
def dataservice(ctx, config):
    """The data service: apps, datasources and datatables on Frictionless Table Schemas."""
    ctx.obj = {"plugin_config": _plugin_config(config) if config else {}, "config_path": config}


def _plugin_config(path: str) -> dict:
    import yaml  # Datasette's own dependency, as it reads datasette.yml

    loaded = yaml.safe_load(Path(path).read_text()) or {}
    return dict((loaded.get("plugins") or {}).get(PLUGIN_NAME) or {})


def run_with_service(data_dir: str, work):
    """Run ``await work(service)`` on a Datasette over DATA_DIR, with no server."""
    from datasette.app import Datasette

    from ..service.core import service_for

    context = click.get_current_context(silent=True)
    plugin_config = dict(((context and context.obj) or {}).get("plugin_config") or {})
    plugin_config["data_dir"] = str(Path(data_dir).resolve())
    config = {"plugins": {PLUGIN_NAME: plugin_config}}

    async def run():
        datasette = Datasette(config=config)
        await datasette.invoke_startup()
        try:
            return await work(service_for(datasette))
        finally:
            await service_for(datasette).close()
            datasette.close()

    try:
        return asyncio.run(run())
    except DataServiceError as error:
        raise click.ClickException("; ".join(error.errors)) from error
    except StartupError as error:  # e.g. a server holds the data directory
        raise click.ClickException(str(error)) from error


from . import catalog, catalog_migrate, demo, transfer  # noqa: E402, F401  (they add their commands)
