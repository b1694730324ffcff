"""``datasette dataservice import``: bulk loads without a server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import dataservice, run_with_service

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
    from ..service.importer import import_rows

    path = Path(file)
    format_ = format_ or EXTENSIONS.get(path.suffix.lower())
    if format_ is None:
        raise click.UsageError(f"cannot tell the format of {file}: pass --format")

    async def work(service):
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

    status = run_with_service(data_dir, work)
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


@dataservice.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("app")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
def export(data_dir, app, out):
    """Export APP as a Frictionless Data Package zip (descriptor + CSV data) to OUT.

    datasette dataservice export dataservice-data demo demo.zip
    """
    from ..service.datapackage import export_package

    run_with_service(data_dir, lambda service: export_package(service, "", app, Path(out)))
    click.echo(f"Wrote {out}")


@dataservice.command(name="import-package")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="Name of the new app (default: the package's title)")
@click.option("--slug", help="Slug of the new app")
@click.option("--provider-type", type=click.Choice(["flat_table", "jsonb"]), default="flat_table")
def import_package(data_dir, package, name, slug, provider_type):
    """Create an app from a Data Package zip: datatables, validated rows, a report.

    datasette dataservice import-package dataservice-data demo.zip --slug demo-copy
    """
    from ..service.datapackage import import_package as run_import

    result = run_with_service(
        data_dir,
        lambda service: run_import(
            service, "", "cli", Path(package), name=name, slug=slug, provider_type=provider_type
        ),
    )
    app = result["app"]
    click.echo(f"Created app {app['slug']} with {len(result['resources'])} datatables")
    for resource in result["resources"]:
        click.echo(f"  {resource['name']}: {resource['rows_written']} rows")
