"""The demo app that ``datasette dataservice demo`` seeds, through the HTTP API itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

DEMO_APP = {"name": "Demo", "slug": "demo", "description": "A demo app of the data service"}

DATASOURCES = [
    {
        "name": "Users Database",
        "slug": "users-db",
        "provider_type": "flat_table",
        "description": "User data storage: typed STRICT tables",
    },
    {
        "name": "Events",
        "slug": "events",
        "provider_type": "jsonb",
        "description": "JSON documents, each field exposed as a column by a view",
    },
]

USERS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "email", "type": "string", "format": "email", "constraints": {"required": True}},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}

EVENTS_SCHEMA = {
    "fields": [
        {"name": "kind", "type": "string", "constraints": {"enum": ["signup", "login", "order"]}},
        {"name": "user_id", "type": "integer"},
        {"name": "at", "type": "datetime"},
    ]
}

DATATABLES: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    (
        "users-db",
        {"name": "users", "description": "User accounts table", "json_schema": USERS_SCHEMA},
        [
            {
                "id": 1,
                "email": "ada@example.com",
                "name": "Ada",
                "created_at": "2024-10-30T12:00:00Z",
            },
            {
                "id": 2,
                "email": "alan@example.com",
                "name": "Alan",
                "created_at": "2024-10-31T09:30:00Z",
            },
        ],
    ),
    (
        "events",
        {"name": "events", "description": "What users did", "json_schema": EVENTS_SCHEMA},
        [
            {"data": {"kind": "signup", "user_id": 1, "at": "2024-10-30T12:00:00Z"}},
            {"data": {"kind": "login", "user_id": 2, "at": "2024-10-31T09:31:00Z"}},
        ],
    ),
]


async def seed_demo(datasette) -> bool:
    """Create the demo app unless it exists; True if it was created now."""
    token = await datasette.create_token("root")
    headers = {"Authorization": f"Bearer {token}"}
    client = datasette.client
    if (await client.get("/-/apps/demo.json", headers=headers)).status_code == 200:
        return False
    await _post(client, "/-/apps", DEMO_APP, headers)
    for datasource in DATASOURCES:
        await _post(client, "/-/apps/demo/datasources", datasource, headers)
    for datasource, datatable, rows in DATATABLES:
        created = await _post(
            client, f"/-/apps/demo/datasources/{datasource}/datatables", datatable, headers
        )
        await _post(client, urlsplit(created["insert_url"]).path, {"rows": rows}, headers)
    return True


async def _post(client, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict:
    response = await client.post(url, json=body, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"seeding the demo failed at {url}: {response.text}")
    return response.json()
