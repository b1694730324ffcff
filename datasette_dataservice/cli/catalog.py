"""Catalog commands: apps, datasources, datatables and schema changes, with no server.

They call the same service functions as the HTTP API, so the same rules and audit trail
apply (the actor recorded is "cli"). Output is JSON, like the API's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..schema import json_text
from . import dataservice, run_with_service

ACTOR = "cli"
DATA_DIR = click.argument("data_dir", type=click.Path(exists=True, file_okay=False))


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _schema_file(path: str) -> dict:
    try:
        return json_text.loads(Path(path).read_text())
    except ValueError as e:
        raise click.BadParameter(f"{path} is not JSON: {e}") from e


def _renames(pairs: tuple[str, ...]) -> dict[str, str]:
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"--rename takes OLD=NEW, got {pair!r}")
        renames[old] = new
    return renames


def _public(row: dict) -> dict:
    hidden = {"tenant", "field_aliases"}
    return {k: v for k, v in row.items() if k not in hidden}


@dataservice.command()
@DATA_DIR
def apps(data_dir):
    """List the apps in DATA_DIR."""
    from ..service import listing

    async def work(service):
        page = await listing.apps(service, "", include_inactive=False, next=None, size=1000)
        return [
            {k: app[k] for k in ("slug", "name", "datasource_count", "table_count", "created_at")}
            for app in page.items
        ]

    _echo(run_with_service(data_dir, work))


@dataservice.command(name="create-app")
@DATA_DIR
@click.argument("name")
@click.option("--slug")
@click.option("--description")
def create_app(data_dir, name, slug, description):
    """Create an app called NAME.

    datasette dataservice create-app dataservice-data "My Application"
    """
    from ..service.apps import create_app

    body = {"name": name, **({"slug": slug} if slug else {})}
    if description:
        body["description"] = description
    _echo(_public(run_with_service(data_dir, lambda s: create_app(s, "", ACTOR, body))))


@dataservice.command(name="create-datasource")
@DATA_DIR
@click.argument("app")
@click.argument("name")
@click.option("--provider-type", type=click.Choice(["flat_table", "jsonb"]), required=True)
@click.option("--slug")
@click.option("--description")
def create_datasource(data_dir, app, name, provider_type, slug, description):
    """Create a datasource called NAME in APP."""
    from ..service.datasources import create_datasource

    body = {"name": name, "provider_type": provider_type}
    body.update({k: v for k, v in {"slug": slug, "description": description}.items() if v})
    row = run_with_service(data_dir, lambda s: create_datasource(s, "", ACTOR, app, body))
    _echo(_public(row))


@dataservice.command(name="create-table")
@DATA_DIR
@click.argument("app")
@click.argument("datasource")
@click.argument("name")
@click.argument("schema_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--description")
@click.option("--no-materialize", is_flag=True, help="Record the datatable only")
def create_table(data_dir, app, datasource, name, schema_file, description, no_materialize):
    """Create datatable NAME from the Table Schema in SCHEMA_FILE, and materialize it."""
    from ..service.datatables import create_datatable

    body = {"name": name, "json_schema": _schema_file(schema_file)}
    body["materialize"] = not no_materialize
    if description:
        body["description"] = description
    row = run_with_service(
        data_dir, lambda s: create_datatable(s, "", ACTOR, app, datasource, body)
    )
    _echo(_public(row))


@dataservice.command()
@DATA_DIR
@click.argument("app")
@click.argument("datasource")
@click.argument("table")
@click.option("--version", type=int, help="An earlier schema version")
def schema(data_dir, app, datasource, table, version):
    """Print a datatable's Table Schema."""
    from ..service.datatables import schema_of

    _echo(run_with_service(data_dir, lambda s: schema_of(s, "", app, datasource, table, version)))


def _change_options(command):
    command = click.option(
        "--rename", "renames", multiple=True, metavar="OLD=NEW", help="A renamed field"
    )(command)
    command = click.argument("schema_file", type=click.Path(exists=True, dir_okay=False))(command)
    for name in ("table", "datasource", "app"):
        command = click.argument(name)(command)
    return DATA_DIR(command)


@dataservice.command()
@_change_options
def plan(data_dir, app, datasource, table, schema_file, renames):
    """Dry run: what changing TABLE's schema to SCHEMA_FILE would do. Nothing changes."""
    from ..service.migrations import plan_schema_change

    body = {"json_schema": _schema_file(schema_file), "renames": _renames(renames)}
    _echo(
        run_with_service(
            data_dir, lambda s: plan_schema_change(s, "", app, datasource, table, body)
        )
    )


@dataservice.command()
@_change_options
@click.option("--on-invalid", type=click.Choice(["refuse", "set_null"]), default="refuse")
@click.option("--schema-hash", help="Refuse unless the current schema has this hash")
def migrate(data_dir, app, datasource, table, schema_file, renames, on_invalid, schema_hash):
    """Change TABLE's schema to SCHEMA_FILE: a migration, all or nothing."""
    from ..errors import DataServiceError
    from ..service.migrations import change_schema

    body = {
        "json_schema": _schema_file(schema_file),
        "renames": _renames(renames),
        "on_invalid": on_invalid,
    }

    async def work(service):
        try:
            return await change_schema(
                service,
                "",
                ACTOR,
                app,
                datasource,
                table,
                body,
                partial=False,
                expected_hash=schema_hash,
            )
        except DataServiceError as error:
            if error.report:
                _echo(error.report)
            raise

    row = run_with_service(data_dir, work)
    _echo({k: row[k] for k in ("name", "schema_version", "schema_hash")})


@dataservice.command()
@DATA_DIR
@click.argument("app")
@click.option("--table", metavar="DATASOURCE/TABLE", help="One datatable's operations")
@click.option("--limit", type=int, default=100, show_default=True)
def operations(data_dir, app, table, limit):
    """Print an app's audit trail of operations, oldest first."""
    from ..service import listing

    datasource, _, name = (table or "").partition("/")

    async def work(service):
        page = await listing.operations(
            service,
            "",
            app,
            datasource_slug=datasource or None,
            datatable_name=name or None,
            include_inactive=True,  # the operator sees the whole trail
            next=None,
            size=limit,
        )
        return [
            {k: op[k] for k in ("id", "created_at", "operation", "target", "actor", "status")}
            for op in page.items
        ]

    _echo(run_with_service(data_dir, work))
