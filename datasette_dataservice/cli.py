"""``datasette dataservice ...``: commands that work on a data directory without a server."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

import click

from .config import PLUGIN_NAME
from .errors import DataServiceError


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


@dataservice.command()
@click.option("--data-dir", default="dataservice-data", show_default=True, type=click.Path())
@click.option("-m", "--metadata", type=click.Path(exists=True), help="metadata.yml to serve")
@click.option("-h", "--host", default="127.0.0.1", show_default=True)
@click.option("-p", "--port", default=8001, show_default=True, type=int)
def demo(data_dir: str, metadata: str | None, host: str, port: int):
    """Seed a demo app in DATA_DIR (first run only), then serve it with root access."""
    from datasette.app import Datasette

    from .demo import seed_demo

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

    created, token = asyncio.run(prepare())
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


EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
CHUNK_BYTES = 1 << 20


@dataservice.command(name="import")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("app")
@click.argument("datasource")
@click.argument("table")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "format_", type=click.Choice(sorted(set(EXTENSIONS.values()))))
@click.option(
    "--mode", type=click.Choice(["insert", "upsert"]), default="insert", show_default=True
)
@click.option(
    "--on-invalid", type=click.Choice(["refuse", "skip"]), default="refuse", show_default=True
)
@click.option("--batch-size", type=int, default=10_000, show_default=True)
def import_file(data_dir, app, datasource, table, file, format_, mode, on_invalid, batch_size):
    """Import FILE into a datatable, validated, with no server running.

    Same rules as POST .../datatables/TABLE/import: every row is checked against the Table
    Schema; the import lands whole, or (with --on-invalid skip) without the invalid rows.

        datasette dataservice import dataservice-data demo users-db users users.csv
    """
    from datasette.app import Datasette

    from .service.core import service_for
    from .service.importer import import_rows

    path = Path(file)
    format_ = format_ or EXTENSIONS.get(path.suffix.lower())
    if format_ is None:
        raise click.UsageError(f"cannot tell the format of {file}: pass --format")
    config = {"plugins": {PLUGIN_NAME: {"data_dir": str(Path(data_dir).resolve())}}}

    async def run():
        datasette = Datasette(config=config)
        await datasette.invoke_startup()
        try:
            service = service_for(datasette)
            datatable = await service.datatable("", app, datasource, table)
            with click.progressbar(
                length=path.stat().st_size, label=f"Importing {path.name}", file=sys.stderr
            ) as bar:
                return await import_rows(
                    service,
                    datatable,
                    _chunks(path, bar),
                    format=format_,
                    actor="cli",
                    mode=mode,
                    on_invalid=on_invalid,
                    batch_size=batch_size,
                )
        finally:
            datasette.close()

    try:
        status = asyncio.run(run())
    except DataServiceError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"{status.state}: {status.rows_read} rows read, {status.rows_written} written, "
        f"{status.rows_invalid} invalid"
    )
    for error in status.errors[:10]:
        click.echo(f"  row {error.get('rowNumber')}: {error['message']}", err=True)
    if status.state != "done":
        raise click.ClickException(status.error or "the import failed")


async def _chunks(path: Path, bar):
    with path.open("rb") as upload:
        while chunk := upload.read(CHUNK_BYTES):
            bar.update(len(chunk))
            yield chunk
