"""Rate limits (DESIGN §6): per actor, anonymous per address, 429 with Retry-After, on memory
and on a real Redis (``DATASERVICE_TEST_REDIS_URL``, default 127.0.0.1:6379, a unique key prefix
per test, cleaned up after)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest
import pytest_asyncio
from conftest import (
    REDIS_URL,
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    insert_row,
    make_datasette,
)
from datasette.database import Database
from datasette.utils import await_me_maybe
from datasette_test import Datasette

from datasette_dataservice.config import DataServiceConfig, RateLimits
from datasette_dataservice.web.ratelimit import limiter_for

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest_asyncio.fixture(params=["memory", "redis"])
async def limited(request, tmp_path):
    """``await limited(default=..., write=...)``: a started Datasette with those limits."""
    storage = request.param
    if storage == "redis":
        request.getfixturevalue("redis_url")  # skips, or fails under CI=true, without Redis
    made: list[Datasette] = []

    async def make(**rate_limits) -> Datasette:
        uri = REDIS_URL if storage == "redis" else "memory://"
        ds = make_datasette(
            tmp_path / f"data{len(made)}", rate_limits={"storage": uri, **rate_limits}
        )
        await ds.invoke_startup()
        limiter_for(ds).key_prefix = f"dataservice-test-{uuid.uuid4().hex}"
        made.append(ds)
        return ds

    yield make
    for ds in made:
        limiter = limiter_for(ds)
        if storage == "redis" and limiter._strategy is not None:
            # deletes this test's prefixed keys only; there were some: Redis was really used
            assert await limiter.strategy.storage.reset() > 0
        ds.close()


async def bearer(ds, actor_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await ds.create_token(actor_id)}"}


async def get_from(
    ds, path: str, address: str, port: int = 40000, forwarded_for: str | None = None
) -> httpx.Response:
    """An anonymous request from client ``address``, with ``X-Forwarded-For`` if given."""
    transport = httpx.ASGITransport(app=ds.app(), client=(address, port))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.get(path, headers=headers)


def usage(response) -> tuple[int, int]:
    """(limit, remaining) from the X-RateLimit-* headers; the reset is a future epoch second."""
    assert all(h in response.headers for h in HEADERS), dict(response.headers)
    reset = int(response.headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 3600
    return int(response.headers["X-RateLimit-Limit"]), int(
        response.headers["X-RateLimit-Remaining"]
    )


def assert_limited(response, limit: str, amount: int, window: int) -> int:
    """A 429 in Datasette's error shape with all four headers; returns Retry-After."""
    body = assert_error(response, 429)
    assert re.fullmatch(rf"Rate limit exceeded: {limit}; retry in \d+ seconds?", body["error"])
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= window
    assert usage(response) == (amount, 0)
    assert str(retry) in body["error"]
    return retry


@pytest.mark.asyncio
async def test_default_limit_per_actor_and_per_address(limited):
    ds = await limited(default="5/minute", write="100/second")
    root = await bearer(ds, "root")
    seen = []
    for path in ["/-/apps.json"] * 4 + ["/-/apps"]:  # the HTML page counts too
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200
        seen.append(usage(response))
    assert seen == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0)]
    retry = assert_limited(
        await ds.client.get("/-/apps.json", headers=root), "5 per 1 minute", 5, 60
    )
    assert retry > 50  # the oldest of the five requests frees its slot a minute after it
    # another actor, and anonymous callers, have their own allowance
    alice = await ds.client.get("/-/apps.json", headers=await bearer(ds, "alice"))
    assert alice.status_code == 200 and usage(alice) == (5, 4)
    for n in range(5):
        response = await get_from(ds, "/-/apps.json", "10.0.0.1")
        assert response.status_code == 200 and usage(response) == (5, 4 - n)
    assert_limited(await get_from(ds, "/-/apps.json", "10.0.0.1"), "5 per 1 minute", 5, 60)
    other = await get_from(ds, "/-/apps.json", "10.0.0.2")
    assert other.status_code == 200 and usage(other) == (5, 4)


@pytest.mark.asyncio
async def test_write_burst(limited):
    ds = await limited(default="100/minute", write="3/second")
    root = await bearer(ds, "root")
    for n in range(3):
        response = await ds.client.post("/-/apps", json={"name": f"App {n}"}, headers=root)
        assert response.status_code == 201
        assert usage(response) == (3, 2 - n)  # the write limit is the tightest
    refused = await ds.client.post("/-/apps", json={"name": "App 3"}, headers=root)
    assert assert_limited(refused, "3 per 1 second", 3, 1) == 1
    reads = await ds.client.get("/-/apps.json", headers=root)  # reads are not writes
    assert reads.status_code == 200 and [a["slug"] for a in reads.json()["apps"]] == [
        "app-0",
        "app-1",
        "app-2",
    ]
    # 3 writes and this read: a write refused by the burst limit does not use up the default
    assert usage(reads) == (100, 100 - 4)
    await asyncio.sleep(1.1)  # the window moves on
    again = await ds.client.post("/-/apps", json={"name": "App 3"}, headers=root)
    assert again.status_code == 201 and usage(again) == (3, 2)


@pytest.mark.asyncio
async def test_per_action_limit(limited):
    ds = await limited(
        default="100/minute", write="100/second", actions={"dataservice-create-app": "2/minute"}
    )
    root = await bearer(ds, "root")
    for n in range(2):
        response = await ds.client.post("/-/apps", json={"name": f"App {n}"}, headers=root)
        assert response.status_code == 201 and usage(response) == (2, 1 - n)
    refused = await ds.client.post("/-/apps", json={"name": "App 2"}, headers=root)
    assert assert_limited(refused, "2 per 1 minute", 2, 60) > 50
    listed = await ds.client.get("/-/apps.json", headers=root)
    assert [a["slug"] for a in listed.json()["apps"]] == ["app-0", "app-1"]
    # other actions are not limited by it
    response = await ds.client.post(
        "/-/apps/app-0/datasources",
        json={"name": "D", "slug": "d", "provider_type": "flat_table"},
        headers=root,
    )
    assert response.status_code == 201 and usage(response)[0] == 100
    # a refused permission check does not use up the allowance of the action
    alice = await bearer(ds, "alice")
    for _ in range(3):
        assert_error(await ds.client.post("/-/apps", json={"name": "X"}, headers=alice), 403)


@pytest.mark.asyncio
async def test_core_insert_counted_on_managed_tables_only(limited, users_schema):
    ds = await limited(default="100/minute", write="5/minute")
    root = await bearer(ds, "root")
    await create_app(ds, root, name="a")  # three writes of the five
    await create_datasource(ds, root, "a", slug="d")
    users = await create_datatable(ds, root, "a", "d", "users", users_schema)
    plain = ds.add_database(Database(ds, memory_name="rl_plain", is_mutable=True), name="plain")
    await plain.execute_write("create table notes (id integer primary key, body text)")
    for n in (1, 2):
        row = {"id": n, "email": f"u{n}@example.com", "name": f"U{n}"}
        response = await insert_row(ds, root, users, row)
        assert response.status_code == 201 and usage(response) == (5, 2 - n)
    refused = await insert_row(ds, root, users, {"id": 3, "email": "u3@example.com", "name": "U"})
    assert_limited(refused, "5 per 1 minute", 5, 60)
    rows = await ds.get_database(users["database"]).execute(
        f"select id from [{users['table']}] order by id"
    )
    assert [r["id"] for r in rows.rows] == [1, 2]
    for n in range(1, 8):  # an unmanaged table keeps core's behaviour: no limits, no headers
        response = await ds.client.post(
            "/plain/notes/-/insert", json={"row": {"id": n, "body": "x"}}, headers=root
        )
        assert response.status_code == 201, response.text
        assert not any(h in response.headers for h in (*HEADERS, "Retry-After"))


@pytest.mark.asyncio
async def test_concurrent_requests_never_exceed_the_limit(limited):
    ds = await limited(default="1000/minute", write="10/minute")
    root = await bearer(ds, "root")
    responses = await asyncio.gather(
        *(ds.client.post("/-/apps", json={"name": f"App {n}"}, headers=root) for n in range(30))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [429] * 20
    listed = await ds.client.get("/-/apps.json?_size=100", headers=root)
    assert listed.json()["count"] == 10
    # and straight at the limiter: 100 concurrent hits on one key, 10 allowed
    limiter = limiter_for(ds)
    results = await asyncio.gather(
        *(
            await_me_maybe(limiter.strategy.hit(limiter.items["write"], "write", "actor:c"))
            for _ in range(100)
        )
    )
    assert results.count(True) == 10


@pytest.mark.asyncio
@pytest.mark.parametrize("switch", [{"enabled": False}, {"enabled": "false"}, {"enabled": "OFF"}])
async def test_disabled_means_no_headers_no_429_and_no_storage(tmp_path, switch):
    # an unreachable Redis: any storage call would answer 503
    ds = make_datasette(
        tmp_path / "data",
        rate_limits={"default": "1/minute", "write": "1/minute", "storage": "redis://127.0.0.1:1"}
        | switch,
    )
    await ds.invoke_startup()
    try:
        root = await bearer(ds, "root")
        for n in range(5):
            created = await ds.client.post("/-/apps", json={"name": f"App {n}"}, headers=root)
            listed = await ds.client.get("/-/apps.json", headers=root)
            assert (created.status_code, listed.status_code) == (201, 200)
            for response in (created, listed):
                assert not any(h in response.headers for h in (*HEADERS, "Retry-After"))
        assert limiter_for(ds)._strategy is None  # the storage was never built
    finally:
        ds.close()


@pytest.mark.asyncio
async def test_unreachable_redis_is_503_not_500(tmp_path):
    ds = make_datasette(tmp_path / "data", rate_limits={"storage": "redis://:s3cret@127.0.0.1:1/0"})
    await ds.invoke_startup()
    try:
        root = await bearer(ds, "root")
        page = await ds.client.get("/-/apps", headers=root)  # a page: an HTML error page
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "Rate limiting is unavailable" in page.text and "s3cret" not in page.text
        for response in [
            await ds.client.get("/-/apps.json", headers=root),
            await ds.client.post("/-/apps", json={"name": "A"}, headers=root),
            await get_from(ds, "/-/apps.json", "10.0.0.9"),
        ]:
            body = assert_error(response, 503)
            assert "redis://127.0.0.1:1" in body["error"] and "s3cret" not in body["error"]
            assert body["error"].startswith("Rate limiting is unavailable")
        # nothing ran unmetered
        assert (await ds.client.get("/-/apps.json", headers=root)).status_code == 503
    finally:
        ds.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "rate_limits, key",
    [
        ({"default": "lots"}, "rate_limits.default"),
        ({"write": "10/fortnight"}, "rate_limits.write"),
        ({"write": 10}, "rate_limits.write"),
        ({"default": "1/second;5/minute"}, "rate_limits.default"),
        (
            {"actions": {"dataservice-create-app": "often"}},
            "rate_limits.actions.dataservice-create-app",
        ),
        ({"actions": {"insert-row": "1/second"}}, "rate_limits.actions"),
        ({"storage": "ftp://example.com"}, "rate_limits.storage"),
        ({"enabled": "maybe"}, "rate_limits.enabled"),
        ({"actors": {"bot": {"reads": "1/second"}}}, "rate_limits.actors.bot"),
        ({"actors": {"bot": {"write": "often"}}}, "rate_limits.actors.bot.write"),
        ({"actors": ["bot"]}, "rate_limits.actors"),
        ({"trusted_proxies": ["proxy.local"]}, "rate_limits.trusted_proxies"),
    ],
)
async def test_bad_settings_fail_at_startup(tmp_path, rate_limits, key):
    ds = make_datasette(tmp_path / "data", rate_limits=rate_limits)
    with pytest.raises(ValueError, match=re.escape(key)):
        await ds.invoke_startup()
    ds.close()


def test_enabled_accepts_the_strings_datasette_s_passes(tmp_path):
    def enabled(raw):
        config = DataServiceConfig.from_plugin_config({"data_dir": str(tmp_path), **raw})
        return config.rate_limits.enabled

    assert enabled({}) is True
    assert enabled({"rate_limits": {"enabled": "false"}}) is False
    assert enabled({"rate_limits": {"enabled": "true", "default": "5/minute"}}) is True
    assert enabled({"rate_limits": "false"}) is False
    assert enabled({"rate_limits": False}) is False
    assert RateLimits.from_raw({"enabled": "False"}) == RateLimits(enabled=False)


@pytest.mark.asyncio
async def test_forwarded_for_from_an_untrusted_peer_gets_no_fresh_bucket(limited):
    ds = await limited(default="3/minute", write="100/second")
    for n in range(3):  # a new "client" each time, all from one peer
        response = await get_from(ds, "/-/apps.json", "10.0.0.1", forwarded_for=f"198.51.100.{n}")
        assert response.status_code == 200 and usage(response) == (3, 2 - n)
    spoofed = await get_from(ds, "/-/apps.json", "10.0.0.1", forwarded_for="198.51.100.99")
    assert_limited(spoofed, "3 per 1 minute", 3, 60)
    # uvicorn (datasette serve) trusts loopback by default and puts the header's address in
    # the request before the plugin sees it, port 0: still one bucket, loopback's
    for n in range(3):
        address = f"203.0.113.{n}"
        response = await get_from(ds, "/-/apps.json", address, port=0, forwarded_for=address)
        assert response.status_code == 200 and usage(response) == (3, 2 - n)
    spoofed = await get_from(ds, "/-/apps.json", "203.0.113.9", port=0, forwarded_for="203.0.113.9")
    assert_limited(spoofed, "3 per 1 minute", 3, 60)


@pytest.mark.asyncio
async def test_trusted_proxies_name_the_client(limited):
    ds = await limited(default="2/minute", write="100/second", trusted_proxies=["10.0.0.0/8"])
    for _ in range(2):
        response = await get_from(ds, "/-/apps.json", "10.0.0.1", forwarded_for="198.51.100.1")
        assert response.status_code == 200
    # the client a trusted proxy appended counts, not what the client claimed before it
    refused = await get_from(
        ds, "/-/apps.json", "10.0.0.2", forwarded_for="192.0.2.50, 198.51.100.1, 10.0.0.3"
    )
    assert_limited(refused, "2 per 1 minute", 2, 60)
    other = await get_from(ds, "/-/apps.json", "10.0.0.1", forwarded_for="198.51.100.2")
    assert other.status_code == 200 and usage(other) == (2, 1)
    # a peer outside the trusted networks is its own client, whatever it forwards
    direct = await get_from(ds, "/-/apps.json", "192.0.2.1", forwarded_for="198.51.100.3")
    assert direct.status_code == 200 and usage(direct) == (2, 1)


@pytest.mark.asyncio
async def test_an_actor_can_have_limits_of_its_own(limited):
    ds = await limited(
        default="100/minute", write="2/second", actors={"root": {"write": "50/second"}}
    )
    root, alice = await bearer(ds, "root"), await bearer(ds, "alice")
    for n in range(5):  # more than the instance's burst
        response = await ds.client.post("/-/apps", json={"name": f"App {n}"}, headers=root)
        assert response.status_code == 201 and usage(response) == (50, 49 - n)
    # everyone else keeps the instance's limits; refused writes count against them too
    for _ in range(2):
        response = await ds.client.post("/-/apps", json={"name": "Nope"}, headers=alice)
        assert response.status_code == 403
    refused = await ds.client.post("/-/apps", json={"name": "Nope"}, headers=alice)
    assert_limited(refused, "2 per 1 second", 2, 1)
