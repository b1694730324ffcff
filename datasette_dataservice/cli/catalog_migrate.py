"""``datasette dataservice catalog-migrate``: move a SQLite catalog to PostgreSQL."""

from __future__ import annotations

import click
from datasette.utils import StartupError

from ..config import PLUGIN_NAME, DataServiceConfig
from ..errors import DataServiceError
from . import dataservice
from .demo import served_plugin_config


@dataservice.command(name="catalog-migrate")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-c",
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="datasette.yml (or .json) the servers will use, with the catalog and postgres "
    "blocks (default: the one given to datasette dataservice -c)",
)
@click.option(
    "-s",
    "--setting",
    "settings",
    type=(str, str),
    multiple=True,
    help="A setting, as datasette serve -s: -s plugins.datasette-dataservice.KEY VALUE",
)
@click.option("--dry-run", is_flag=True, help="Check and copy, then roll back: nothing changes")
@click.option(
    "--leave-deleted-sqlite",
    is_flag=True,
    help="Leave soft-deleted SQLite datasources behind (with their datatables and versions; "
    "their files stay in DATA_DIR, their audit entries are copied) instead of refusing",
)
@click.pass_context
def catalog_migrate(ctx, data_dir, config, settings, dry_run, leave_deleted_sqlite):
    """Copy the SQLite catalog of DATA_DIR into the PostgreSQL catalog the configuration
    names, for servers that share it (several nodes).

    \b
        datasette dataservice catalog-migrate dataservice-data -c datasette.yml

    The target is read as the servers read it: plugins.datasette-dataservice.catalog
    {engine: postgres, connection: NAME, schema: optional} and its postgres connections, so the
    command and the servers agree. Apps, datasources, datatables, schema versions and the
    audit trail are copied with their ids, in one PostgreSQL transaction (all or nothing); the
    target schema is created or migrated first and must hold no catalog yet (no merging).

    Refused, with nothing written: SQLite datasources (their data is a file here: move them
    to PostgreSQL first; soft-deleted ones too, unless --leave-deleted-sqlite), Postgres
    datasources on a connection the configuration lacks, a schema change in flight (start
    the server once to recover it), a target schema that already holds a catalog, or a
    server running on DATA_DIR.
    DATA_DIR's catalog.db is brought to the newest version and otherwise left as it was;
    serve with the Postgres catalog from then on.
    """
    from ..catalog.copy import CopyRefused, copy_catalog

    path = config or (ctx.obj or {}).get("config_path")
    plugin_config = {**served_plugin_config(path, settings), "data_dir": data_dir}
    try:
        service_config = DataServiceConfig.from_plugin_config(plugin_config)
        result = copy_catalog(
            service_config, dry_run=dry_run, leave_deleted_sqlite=leave_deleted_sqlite
        )
    except ValueError as error:  # the configuration, as a server would refuse it
        raise click.ClickException(f"plugins.{PLUGIN_NAME}: {error}") from error
    except CopyRefused as error:
        raise click.ClickException("\n  ".join(["refused:", *error.errors])) from error
    except DataServiceError as error:
        raise click.ClickException("; ".join(error.errors)) from error
    except StartupError as error:  # a server holds the data directory
        raise click.ClickException(str(error)) from error
    counts = "".join(f"\n  {table}: {rows}" for table, rows in result.rows.items())
    if result.left_behind:
        counts += "\nLeft behind (soft-deleted SQLite datasources): " + ", ".join(
            f"{table} {rows}" for table, rows in result.left_behind.items()
        )
    where = f'schema "{result.schema}" of PostgreSQL connection "{result.connection}"'
    if dry_run:
        click.echo(f"Dry run: nothing was written. Would copy to {where}:{counts}")
    else:
        click.echo(
            f"Copied the catalog of {service_config.data_dir} to {where}:{counts}\n"
            "Serve with this configuration from now on; the SQLite catalog is left as it was."
        )
