"""Installed but not configured, the plugin changes nothing a Datasette user sees: no data
directory, no catalog database, no extra permission rules, until the data service is used."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
from datasette.plugins import pm
from datasette_test import Datasette

from datasette_dataservice import permissions

PLUGIN = "dataservice"  # the plugin's entry point name
DEBUG_LABELS = {"reason", "source_plugin"}
LISTINGS = [
    "/.json",
    "/-/databases.json",
    "/-/allowed.json?action=view-database",
    "/-/allowed.json?action=view-table",
    "/-/rules.json?action=view-database",
    "/-/rules.json?action=view-table",
    "/-/rules.json?action=insert-row",
    "/_internal/catalog_databases.json?_shape=array&_col=database_name",
]


def plain_datasette(path) -> Datasette:
    """A Datasette over one database file, as Datasette's own tests make them."""
    datasette = Datasette([str(path)], settings={"default_allow_sql": True})
    datasette.root_enabled = True
    return datasette


async def listings(datasette) -> dict:
    root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    seen = {}
    for path in LISTINGS:
        for who, headers in (("anonymous", {}), ("root", root)):
            response = await datasette.client.get(path, headers=headers)
            seen[(path, who)] = (response.status_code, without_reasons(response.json()))
    return seen


def without_reasons(body):
    """The debug listings' ``reason``s name plugins by position in core 1.0a41 (it pairs
    hook results, which pluggy returns last-registered first, with its hook implementations
    in registration order), so any plugin that implements permission_resources_sql changes
    which plugin a reason names; the rules themselves are what must not change."""
    if isinstance(body, dict):
        return {k: without_reasons(v) for k, v in body.items() if k not in DEBUG_LABELS}
    if isinstance(body, list):
        return [without_reasons(v) for v in body]
    return body


def without_plugin():
    """Context: the plugin unregistered from Datasette's plugin manager, then registered again."""

    class Unplugged:
        def __enter__(self):
            self.plugin = pm.unregister(name=PLUGIN)
            assert self.plugin is not None

        def __exit__(self, *exc):
            pm.register(self.plugin, name=PLUGIN)

    return Unplugged()


@pytest.mark.asyncio
async def test_unconfigured_datasette_creates_nothing_and_lists_what_core_lists(
    tmp_path, monkeypatch
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    db = tmp_path / "data.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (id integer primary key, name text)")

    with_plugin = plain_datasette(db)
    await with_plugin.invoke_startup()
    seen_with = await listings(with_plugin)
    assert os.listdir(cwd) == []  # no ./dataservice-data/
    assert "_dataservice" not in with_plugin.databases
    with without_plugin():
        core = plain_datasette(db)
        await core.invoke_startup()
        seen_without = await listings(core)
    for key, value in seen_without.items():
        assert seen_with[key] == value, key
    # core asks plugins for rules on its own actions: the data service adds none of them
    for action in ("view-database", "view-table", "insert-row", "execute-sql"):
        for actor in (None, {"id": "root"}, {"id": "alice"}):
            assert permissions.permission_rules(with_plugin, actor, action) is None
    with_plugin.close()
    core.close()


@pytest.mark.asyncio
async def test_a_vanished_working_directory_breaks_no_request(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    started = Datasette()
    await started.invoke_startup()
    shutil.rmtree(cwd)  # as a test's temporary directory goes, under a running process
    later = Datasette()  # starts after the directory is gone
    for datasette in (started, later):
        for path in ("/.json", "/-/databases.json", "/-/versions.json"):
            response = await datasette.client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
    # using the data service from the later one says what to do, in the API's error shape
    response = await later.client.get("/-/apps.json")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["ok"] is False and "data_dir" in body["error"]
    # the first one took its absolute path at start-up
    assert (await started.client.get("/-/apps.json")).status_code == 200
    started.close()
    later.close()


@pytest.mark.asyncio
async def test_first_use_creates_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    datasette = Datasette()
    datasette.root_enabled = True
    await datasette.invoke_startup()
    assert not (tmp_path / "dataservice-data").exists()
    root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    response = await datasette.client.get("/-/apps.json", headers=root)
    assert response.status_code == 200, response.text
    assert (tmp_path / "dataservice-data" / "catalog.db").is_file()
    assert "_dataservice" in datasette.databases
    response = await datasette.client.post("/-/apps", json={"name": "First"}, headers=root)
    assert response.status_code == 201, response.text
    # the directory is where the working directory was at start-up, even if it changes
    monkeypatch.chdir(tmp_path.parent)
    response = await datasette.client.get("/-/apps/first.json", headers=root)
    assert response.status_code == 200, response.text
    datasette.close()


@pytest.mark.asyncio
async def test_a_data_directory_used_before_is_served_from_start_up(tmp_path, monkeypatch):
    """``datasette serve`` in a directory whose ./dataservice-data has apps serves their
    tables at once, as before, without anyone visiting /-/apps first."""
    monkeypatch.chdir(tmp_path)
    first = Datasette()
    first.root_enabled = True
    root = {"Authorization": f"Bearer {await first.create_token('root')}"}
    await first.invoke_startup()
    assert (await first.client.post("/-/apps", json={"name": "a"}, headers=root)).status_code == 201
    response = await first.client.post(
        "/-/apps/a/datasources", json={"name": "d", "provider_type": "flat_table"}, headers=root
    )
    assert response.status_code == 201, response.text
    first.close()
    again = Datasette()
    await again.invoke_startup()
    assert "a_d" in again.databases
    again.close()
