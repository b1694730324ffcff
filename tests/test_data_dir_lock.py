"""One process at a time on a data directory: a second server or a command refuses to start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import make_datasette
from live_server import free_port, live_server

from datasette_dataservice.catalog import store
from datasette_dataservice.catalog.data_dir_lock import DataDirInUse
from datasette_dataservice.service.core import service_for

IN_USE = "is in use by another process"


def test_a_second_server_on_the_same_data_dir_refuses_to_start(tmp_path):
    with live_server(tmp_path) as first:
        second = subprocess.run(
            [sys.executable, "-m", "datasette", "serve", "-p", str(free_port()), "-s",
             "plugins.datasette-dataservice.data_dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode != 0
        assert IN_USE in second.stderr
        assert f"(pid {first.process.pid})" in second.stderr
        assert "Use the running server's API" in second.stderr
        command = subprocess.run(
            [sys.executable, "-m", "datasette", "dataservice", "apps", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert command.returncode == 1
        assert command.stderr.startswith("Error: The data directory")
        assert IN_USE in command.stderr
    finished = subprocess.run(
        [sys.executable, "-m", "datasette", "dataservice", "apps", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr  # the stopped server let go


@pytest.mark.asyncio
async def test_within_one_process_the_data_dir_is_free_again_once_closed(tmp_path):
    first = make_datasette(tmp_path)
    await first.invoke_startup()
    second = make_datasette(tmp_path)
    with pytest.raises(DataDirInUse, match=IN_USE):
        await second.invoke_startup()
    first.close()
    third = make_datasette(tmp_path)
    await third.invoke_startup()
    assert await service_for(third).read(store.all_active_datasources) == []
    third.close()
