"""The OpenAPI document, and schemathesis against a live server: no 500s, no response that
breaks the document."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_server import live_server


@pytest.mark.asyncio
async def test_document_describes_every_endpoint(ds):
    response = await ds.client.get("/-/apps/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert {"get", "post"} <= {m for p in ("/-/apps.json", "/-/apps") for m in paths[p]}
    table = "/-/apps/{app}/datasources/{ds}/datatables/{table}"
    assert {"put", "patch", "delete"} <= set(paths[table])
    assert "post" in paths[table + "/schema/plan"]
    for operations in paths.values():
        for operation in operations.values():
            assert "4XX" in operation["responses"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["ok", "error", "errors", "status"]


@pytest.mark.asyncio
async def test_reserved_slugs_are_not_apps(ds, root):
    response = await ds.client.post("/-/apps", json={"name": "x", "slug": "openapi"}, headers=root)
    assert response.status_code == 400
    derived = await ds.client.post("/-/apps", json={"name": "OpenAPI"}, headers=root)
    assert derived.json()["slug"] == "openapi-2"


def test_schemathesis_finds_no_server_errors(tmp_path: Path):
    schemathesis = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    assert Path(schemathesis).exists(), "schemathesis must be installed (test extras)"
    log = tmp_path / "server.log"
    with live_server(tmp_path / "data", ("rate_limits.enabled", "false"), log=log) as server:
        base, headers = server.base, server.headers
        httpx.post(base + "/-/apps", json={"name": "fuzz"}, headers=headers)
        httpx.post(
            base + "/-/apps/fuzz/datasources",
            json={"name": "d", "provider_type": "flat_table"},
            headers=headers,
        )
        httpx.post(
            base + "/-/apps/fuzz/datasources/d/datatables",
            json={"name": "t", "json_schema": {"fields": [{"name": "a", "type": "integer"}]}},
            headers=headers,
        )
        run = subprocess.run(
            [
                schemathesis,
                "run",
                base + "/-/apps/openapi.json",
                "--header",
                f"Authorization: Bearer {server.token}",
                "--checks",
                "not_a_server_error,response_schema_conformance,"
                "status_code_conformance,content_type_conformance",
                "--max-examples",
                "15",
                "--workers",
                "2",
                "--phases",
                "examples,fuzzing",
                "--suppress-health-check",
                "all",
                "--seed",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    access_log = log.read_text()
    assert '" 200' in access_log, "the server answered nothing"
    assert '" 500' not in access_log, "the server answered 500"
