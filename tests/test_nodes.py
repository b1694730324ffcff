"""Several nodes, one service (issue 15): what the nodes already share holds across them.

Two real ``datasette serve`` nodes (each its own data directory, the same secret, rate limits
on the tests' Redis), started once for the module (tests/nodes.py), and haproxy in front of
them for the tests of the load balancer.
"""

from __future__ import annotations

import uuid

import pytest
from nodes import TOKEN, nodes

RUN = uuid.uuid4().hex[:8]
# Actors of their own for the rate limit tests: their counts start at zero in the shared Redis
# (the keys expire with the window).
SPREAD, ALONE = f"nodes-spread-{RUN}", f"nodes-alone-{RUN}"
LIMIT = 6


@pytest.fixture(scope="module")
def cluster(redis_url, tmp_path_factory):
    config = {
        "rate_limits": {
            "storage": redis_url,
            "default": "1000/minute",
            "write": "1000/minute",
            "actors": {
                SPREAD: {"default": f"{LIMIT}/minute"},
                ALONE: {"default": f"{LIMIT}/minute"},
            },
        }
    }
    directory = tmp_path_factory.mktemp("nodes")
    with nodes(2, config, directory=directory, balancer=False) as cluster:
        yield cluster


@pytest.fixture
def balanced(cluster):
    """The module's nodes with haproxy in front (started by the first test that needs it)."""
    cluster.start_balancer()
    return cluster


def test_rate_limits_count_requests_on_every_node_together(cluster):
    """Requests spread over two nodes hit the limit at the same total as on one node."""
    alone = [cluster.node(0).get("/-/apps.json", actor=ALONE).status_code for _ in range(LIMIT + 2)]
    spread = [
        cluster.node(i % 2).get("/-/apps.json", actor=SPREAD).status_code for i in range(LIMIT + 2)
    ]
    assert alone == [200] * LIMIT + [429, 429]
    assert spread == alone  # each node let through 3, the limit counted all 6
    refused = cluster.node(1).get("/-/apps.json", actor=SPREAD)
    assert refused.status_code == 429
    assert f"{LIMIT} per 1 minute" in refused.json()["error"]
    assert cluster.node(0).get("/-/apps.json", actor="root").status_code == 200  # others go on


def test_a_token_minted_on_one_node_verifies_on_another_with_the_same_secret(cluster):
    form = {"expire_type": ""}  # a token that does not expire, for everything root may do
    page = cluster.node(0).post("/-/create-token", headers=cluster.signed_in("root"), data=form)
    assert page.status_code == 200, page.text
    token = TOKEN.search(page.text).group(0)
    bearer = {"Authorization": f"Bearer {token}"}

    actor = cluster.node(1).get("/-/actor.json", headers=bearer).json()["actor"]
    assert actor["id"] == "root" and actor["token"] == "dstok"
    created = cluster.node(1).post("/-/apps", json={"name": f"minted {RUN}"}, headers=bearer)
    assert created.status_code == 201, created.text

    with nodes(1, {"rate_limits": False}, secret="another-secret", balancer=False) as other:
        for refused in (
            other.node(0).get("/-/actor.json", headers=bearer),
            other.node(0).post("/-/apps", json={"name": "stranger"}, headers=bearer),
        ):
            assert refused.status_code == 401
            assert refused.json()["error"] == "Invalid token signature"


def test_the_load_balancer_sends_requests_to_both_nodes(balanced):
    cluster = balanced
    probe = f"probe={uuid.uuid4().hex}"
    answers = [cluster.balancer.get(f"/-/versions.json?{probe}") for _ in range(10)]
    assert [answer.status_code for answer in answers] == [200] * 10
    served = cluster.served(probe)
    assert sum(served) == 10 and min(served) > 0, served


def test_a_killed_node_leaves_the_load_balancer_answering_from_the_other(balanced):
    cluster = balanced
    victim, survivor = cluster.node(0), cluster.node(1)
    app = f"survivor-{RUN}"
    assert victim.post("/-/apps", json={"name": app}, actor="root").status_code == 201
    victim.kill()
    probe = f"probe={uuid.uuid4().hex}"
    answers = [cluster.balancer.get(f"/-/apps.json?{probe}", actor="root") for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 6
    assert (victim.served(probe), survivor.served(probe)) == (0, 6)
    cluster.balancer.wait_until_state(victim, "DOWN")  # the health check noticed

    victim.restart()  # on its own data directory: what it held is there again
    assert victim.get(f"/-/apps/{app}.json", actor="root").status_code == 200
    cluster.balancer.wait_until_state(victim, "UP")
    probe = f"probe={uuid.uuid4().hex}"
    answers = [cluster.balancer.get(f"/-/apps.json?{probe}", actor="root") for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 6
    assert victim.served(probe) > 0 and survivor.served(probe) > 0
