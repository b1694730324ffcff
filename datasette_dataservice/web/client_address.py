"""The address an anonymous request counts against (rate limits): the socket peer's, or, when
the peer is a trusted proxy, the client the proxies name in ``X-Forwarded-For``.

With no trusted proxies (the default) ``X-Forwarded-For`` is ignored: a client cannot name a
fresh address for itself. uvicorn (``datasette serve``) replaces the peer address by
``X-Forwarded-For``'s before any application sees it when the peer is one it trusts
(``FORWARDED_ALLOW_IPS``, loopback by default); such a rewritten request is recognised (its
address is one the header names) and counted as coming from loopback, the proxy that sent it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

SERVER_TRUSTED_PEER = "127.0.0.1"  # uvicorn's default FORWARDED_ALLOW_IPS: loopback


class TrustedProxies:
    """Addresses and networks (``10.0.0.0/8``) whose ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]):
        self.networks = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError as e:
                raise ValueError(
                    f'rate_limits.trusted_proxies: "{entry}" is not an IP address or network'
                ) from e

    def __contains__(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_address(self, scope: dict) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        hops = forwarded_for(scope)
        if not hops:
            return peer
        if client and tuple(client) in hops:  # the server put a hop here: it trusted the peer
            peer = SERVER_TRUSTED_PEER
        chain = [host for host, _port in hops] + [peer]
        for host in reversed(chain):  # each proxy appends the address it received from
            if host not in self:
                return host
        return chain[0]


def forwarded_for(scope: dict) -> list[tuple[str, int]]:
    """The (host, port) hops of every ``X-Forwarded-For`` header, port 0 when not given
    (as uvicorn reads them)."""
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
    items = [item.strip() for value in values for item in value.split(",")]
    return [_host_port(item) for item in items if item]


def _host_port(value: str) -> tuple[str, int]:
    if value.startswith("["):  # [v6]:port
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else 0
    if value.count(":") == 1:  # v4:port
        host, port = value.split(":")
        return host, int(port) if port.isdigit() else 0
    return value, 0
