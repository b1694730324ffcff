"""The catalog commands work on a data directory without a server, with the API's rules."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner
from datasette.cli import cli
from live_server import free_port

SCHEMA = {"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]}


@pytest.fixture
def run(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    runner = CliRunner()

    def invoke(*arguments, ok=True):
        result = runner.invoke(cli, ["dataservice", arguments[0], str(data_dir), *arguments[1:]])
        assert (result.exit_code == 0) is ok, result.output
        return json.loads(result.output) if ok else result.output

    return invoke


def test_catalog_commands_end_to_end(run, tmp_path):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    app = run("create-app", "My Application", "--description", "made by the CLI")
    assert (app["slug"], app["description"]) == ("my-application", "made by the CLI")
    source = run("create-datasource", "my-application", "Users", "--provider-type", "jsonb")
    assert (source["slug"], source["provider_type"]) == ("users", "jsonb")
    table = run("create-table", "my-application", "users", "people", str(schema_file))
    assert table["is_materialized"] == 1 and table["physical_table_name"] == "my_application_people"
    assert run("schema", "my-application", "users", "people") == SCHEMA

    renamed = {"fields": [SCHEMA["fields"][0], {"name": "full_name", "type": "string"}]}
    schema_file.write_text(json.dumps(renamed))
    plan = run(
        "plan", "my-application", "users", "people", str(schema_file), "--rename", "name=full_name"
    )
    assert [op["kind"] for op in plan["operations"]] == ["rename_field"]
    assert run("schema", "my-application", "users", "people") == SCHEMA  # a plan changes nothing
    migrated = run(
        "migrate",
        "my-application",
        "users",
        "people",
        str(schema_file),
        "--rename",
        "name=full_name",
    )
    assert migrated["schema_version"] == 2
    assert run("schema", "my-application", "users", "people", "--version", "1") == SCHEMA
    assert run("schema", "my-application", "users", "people") == renamed

    log = run("operations", "my-application")
    assert [op["operation"] for op in log] == [
        "create_app",
        "create_datasource",
        "create_datatable",
        "materialize",
        "change_schema",
    ]
    assert {op["actor"] for op in log} == {"cli"}
    assert run("operations", "my-application", "--table", "users/people")[-1]["status"] == "applied"
    assert [a["slug"] for a in run("apps")] == ["my-application"]


def test_commands_refuse_what_the_api_refuses(run, tmp_path):
    assert 'App "nope" not found' in run(
        "create-datasource", "nope", "x", "--provider-type", "flat_table", ok=False
    )
    run("create-app", "a")
    assert "already exists" in run("create-app", "a", "--slug", "a", ok=False)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fields": [{"name": "x", "type": "magic"}]}))
    run("create-datasource", "a", "d", "--provider-type", "flat_table")
    output = run("create-table", "a", "d", "t", str(bad), ok=False)
    assert "magic" in output
    stale = tmp_path / "s.json"
    stale.write_text(json.dumps(SCHEMA))
    run("create-table", "a", "d", "t", str(stale))
    output = run("migrate", "a", "d", "t", str(stale), "--schema-hash", "0" * 64, ok=False)
    assert "not the current schema" in output


def test_the_groups_configuration_reaches_the_commands(tmp_path):
    """``datasette dataservice -c datasette.yml COMMAND``: the file's settings apply (here a
    limit of one field per Table Schema refuses a two-field table)."""
    config = tmp_path / "datasette.yml"
    config.write_text("plugins:\n  datasette-dataservice:\n    max_fields: 1\n")
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    runner = CliRunner()

    def invoke(*arguments):
        return runner.invoke(cli, ["dataservice", "-c", str(config), *arguments])

    assert invoke("create-app", str(data_dir), "a").exit_code == 0
    assert (
        invoke("create-datasource", str(data_dir), "a", "d", "--provider-type", "jsonb").exit_code
        == 0
    )
    refused = invoke("create-table", str(data_dir), "a", "d", "t", str(schema_file))
    assert refused.exit_code != 0 and "at most 1" in refused.output, refused.output


def test_export_and_import_package(run, tmp_path):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps({**SCHEMA, "primaryKey": ["id"]}))
    run("create-app", "Source")
    run("create-datasource", "source", "Main", "--provider-type", "flat_table")
    run("create-table", "source", "main", "people", str(schema_file))
    rows = tmp_path / "rows.csv"
    rows.write_text("id,name\n1,Ada\n2,Alan\n")
    runner = CliRunner()
    data_dir = str(tmp_path / "data")
    imported = runner.invoke(
        cli, ["dataservice", "import", data_dir, "source", "main", "people", str(rows)]
    )
    assert imported.exit_code == 0, imported.output
    package = tmp_path / "source.zip"
    exported = runner.invoke(cli, ["dataservice", "export", data_dir, "source", str(package)])
    assert exported.exit_code == 0, exported.output
    assert package.stat().st_size > 0
    created = runner.invoke(
        cli, ["dataservice", "import-package", data_dir, str(package), "--slug", "copy"]
    )
    assert created.exit_code == 0, created.output
    assert "2 rows" in created.output
    assert sorted(a["slug"] for a in run("apps")) == ["copy", "source"]
    assert [op["operation"] for op in run("operations", "copy")][-1] == "import_package"


def test_demo_serves_with_the_configuration_and_settings_given(tmp_path):
    """``demo -c datasette.yml -s KEY VALUE`` is served as ``datasette serve`` would serve
    them (merged, the settings over the file): here the file's read limit and a write limit."""
    config = tmp_path / "datasette.yml"
    config.write_text(
        "plugins:\n  datasette-dataservice:\n    rate_limits:\n      default: 3/minute\n"
    )
    port = free_port()
    data_dir = tmp_path / "data"
    arguments = [sys.executable, "-m", "datasette", "dataservice", "demo", "-p", str(port)]
    arguments += ["--data-dir", str(data_dir), "-c", str(config)]
    arguments += ["-s", "plugins.datasette-dataservice.rate_limits.write", "1/minute"]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/-/versions.json", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert httpx.get(base + "/-/apps.json").status_code == 200  # default: 1 of 3
        refused = httpx.post(base + "/-/apps", json={"name": "x"})  # write 1 of 1, default 2
        assert refused.status_code == 401  # refused, and counted
        limited = httpx.post(base + "/-/apps", json={"name": "x"})
        assert limited.status_code == 429 and "1 per 1 minute" in limited.json()["error"]
        assert httpx.get(base + "/-/apps.json").status_code == 200  # default 3 of 3
        limited = httpx.get(base + "/-/apps.json")
        assert limited.status_code == 429 and "3 per 1 minute" in limited.json()["error"]
        # the demo app was seeded into the data directory served
        assert (data_dir / ".secret").is_file() and (data_dir / "demo_users-db.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
