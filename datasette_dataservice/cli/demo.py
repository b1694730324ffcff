"""``datasette dataservice demo``: seed the demo app and serve it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click
from datasette.utils import StartupError, deep_dict_update, pairs_to_nested_config

from ..config import DEFAULT_DATA_DIR, PLUGIN_NAME
from . import _plugin_config, _secret, dataservice


@dataservice.command()
@click.option(
    "--data-dir",
    type=click.Path(),
    help=f"default: the configuration's data_dir, else {DEFAULT_DATA_DIR}",
)
@click.option(
    "-c",
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="datasette.yml (or .json) to serve with, as datasette serve -c",
)
@click.option(
    "-s",
    "--setting",
    "settings",
    type=(str, str),
    multiple=True,
    help="A setting, as datasette serve -s: -s plugins.datasette-dataservice.KEY VALUE",
)
@click.option("-m", "--metadata", type=click.Path(exists=True), help="metadata.yml to serve")
@click.option("-h", "--host", default="127.0.0.1", show_default=True)
@click.option("-p", "--port", default=8001, show_default=True, type=int)
@click.pass_context
def demo(ctx, data_dir, config, settings, metadata, host: str, port: int):
    """Seed a demo app in the data directory (first run only), then serve it with root
    access, with the configuration and settings given (rate limits, tenancy, postgres...)."""
    from ..demo import seed_demo

    config = config or (ctx.obj or {}).get("config_path")
    plugin_config = served_plugin_config(config, settings)
    data_path = Path(data_dir or plugin_config.get("data_dir") or DEFAULT_DATA_DIR).resolve()
    secret = _secret(data_path)
    try:
        created, token = asyncio.run(_seed(plugin_config, data_path, secret, seed_demo))
    except StartupError as error:  # e.g. a server holds the data directory
        raise click.ClickException(str(error)) from error
    base = f"http://{host}:{port}"
    click.echo(
        f"{'Seeded' if created else 'Found'} the demo app in {data_path}\n"
        f"  Apps:       {base}/-/apps\n"
        f"  JSON API:   curl -H 'Authorization: Bearer {token}' {base}/api/apps/\n"
        f"  Table data: {base}/demo_users-db/demo_users\n"
        f"  Secret:     {data_path / '.secret'} (tokens for other actors: datasette "
        f'create-token ACTOR --secret "$(cat {data_path / ".secret"})")\n'
        "Sign in as root with the URL Datasette prints below.",
        err=True,
    )
    args = [sys.executable, "-m", "datasette", "serve", "--root", "-h", host, "-p", str(port)]
    args += ["--setting", "default_allow_sql", "on"]
    if config:
        args += ["-c", config]
    for key, value in settings:
        args += ["-s", key, value]
    args += ["-s", f"plugins.{PLUGIN_NAME}.data_dir", str(data_path)]
    if metadata:
        args += ["--metadata", metadata]
    os.execve(sys.executable, args, {**os.environ, "DATASETTE_SECRET": secret})


def served_plugin_config(config: str | None, settings: tuple[tuple[str, str], ...]) -> dict:
    """The plugin's block as ``datasette serve -c CONFIG -s ...`` will read it."""
    from_settings = pairs_to_nested_config(list(settings)).get("plugins", {}).get(PLUGIN_NAME, {})
    return deep_dict_update(_plugin_config(config) if config else {}, from_settings)


async def _seed(plugin_config: dict, data_path: Path, secret: str, seed_demo) -> tuple[bool, str]:
    """Seed the default tenant, without rate limits, with the served configuration otherwise
    (its Postgres connections serve datasources already in the data directory)."""
    from datasette.app import Datasette

    seeding = {**plugin_config, "data_dir": str(data_path), "rate_limits": False}
    seeding.pop("tenancy", None)
    config = {"plugins": {PLUGIN_NAME: seeding}}
    datasette = Datasette(config=config, secret=secret)
    datasette.root_enabled = True
    await datasette.invoke_startup()
    try:
        created = await seed_demo(datasette)
        return created, await datasette.create_token("root")
    finally:
        datasette.close()
