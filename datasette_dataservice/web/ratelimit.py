"""Rate limits (DESIGN §6), per actor (anonymous: per client address), with ``limits``.

Who counts: the actor (``actor:{id}``), or for anonymous requests the client address
(``ip:...``, see web/client_address.py). An actor named under ``actors`` has its own
``default`` and ``write`` limits in place of the instance's.

What counts: every request through ``context.endpoint()`` against ``default``; a request
whose method is not GET or HEAD also against ``write``; ``Call.require(action)`` against
``actions[action]`` when one is configured (once per request); Datasette's own writes on
managed tables (``core_writes``) against ``default`` and ``write``.

Over a limit: 429 in Datasette's error shape with ``Retry-After`` and ``X-RateLimit-*``
headers; a response within the limits carries the ``X-RateLimit-*`` headers of the tightest
limit that applied (fewest requests remaining).

Strategy: moving window, which never lets more than the limit through, even under
concurrency: a hit is atomic in both storages (memory: the per-key check-and-append has no
``await`` inside; Redis: one Lua script).

Storage: ``memory://`` (per process) or ``redis://host:port/db`` (shared by every process),
mapped to the ``async+`` URI and built on first use. If the storage cannot be reached (Redis
down), the request is answered 503 in the error shape with a clear message, never 500, and
nothing runs unmetered. When rate limits are disabled, no storage is touched at all.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from datasette.utils import await_me_maybe
from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import SCHEMES, storage_from_string
from limits.storage import MemoryStorage as SyncMemoryStorage
from limits.strategies import MovingWindowRateLimiter as SyncMovingWindowRateLimiter

from ..config import RateLimits
from ..errors import DataServiceError
from .client_address import TrustedProxies

READ_METHODS = frozenset({"GET", "HEAD"})
KEY_PREFIX = "datasette-dataservice"  # Redis keys: "{prefix}:LIMITER/{name}/{identity}/..."
REDIS_TIMEOUTS = {"connect_timeout": 2, "stream_timeout": 2}  # an unreachable Redis: 503 fast
log = logging.getLogger(__name__)


class RateLimitExceeded(DataServiceError):
    status = 429


class RateLimitUnavailable(DataServiceError):
    status = 503


@dataclass(frozen=True)
class Usage:
    """One limit right after a hit: what the ``X-RateLimit-*`` headers say."""

    item: RateLimitItem
    remaining: int
    reset: float  # epoch seconds

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.item.amount),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset)),
        }

    def tighter_than(self, other: Usage | None) -> bool:
        key = (self.remaining, self.item.amount)
        return other is None or key < (other.remaining, other.item.amount)


@dataclass
class Meter:
    """One request's rate limiting: who it counts against and the tightest limit so far."""

    limiter: RateLimiter
    identity: str
    own_limits: dict[str, str] = field(default_factory=dict)  # "write" -> "actors.{id}.write"
    tightest: Usage | None = None
    counted_actions: set[str] = field(default_factory=set)

    async def count(self, *names: str) -> None:
        for name in names:
            usage = await self.limiter.hit(self.own_limits.get(name, name), self.identity)
            if usage.tighter_than(self.tightest):
                self.tightest = usage

    async def action(self, action: str) -> None:
        """Count ``action`` against its configured limit, once per request."""
        name = f"actions.{action}"
        if name in self.limiter.items and action not in self.counted_actions:
            self.counted_actions.add(action)
            await self.count(name)


def with_headers(response: Any, meter: Meter | None) -> Any:
    """``response`` with the ``X-RateLimit-*`` headers of the tightest limit that applied
    (a 429 from a per-action limit keeps its own)."""
    if meter is not None and meter.tightest is not None and hasattr(response, "headers"):
        for name, value in meter.tightest.headers().items():
            response.headers.setdefault(name, value)
    return response


class RateLimiter:
    """The data service's rate limits; ``ValueError`` (naming the key) for a bad setting."""

    def __init__(self, settings: RateLimits, known_actions: Iterable[str] = ()):
        self.enabled = settings.enabled
        self.items: dict[str, RateLimitItem] = {
            "default": _parse("default", settings.default),
            "write": _parse("write", settings.write),
        }
        if not isinstance(settings.actions, dict):
            raise ValueError("rate_limits.actions must be a mapping of action name to limit")
        ours = sorted(a for a in known_actions if a.startswith("dataservice-"))
        for action, value in settings.actions.items():
            if ours and action not in ours:
                raise ValueError(
                    f'rate_limits.actions: unknown action "{action}"; one of {", ".join(ours)}'
                )
            self.items[f"actions.{action}"] = _parse(f"actions.{action}", value)
        self.own_limits: dict[str, dict[str, str]] = {}  # actor id -> {"write": item name}
        for actor_id, kinds in _actor_limits(settings.actors).items():
            for kind, spec in kinds.items():
                name = f"actors.{actor_id}.{kind}"
                self.items[name] = _parse(name, spec)
                self.own_limits.setdefault(actor_id, {})[kind] = name
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)
        self.storage_uri = _async_uri(settings.storage)
        self.key_prefix = KEY_PREFIX
        self._strategy: MovingWindowRateLimiter | None = None

    @property
    def storage_name(self) -> str:
        """The storage, without credentials, for messages."""
        url = urlparse(self.storage_uri.removeprefix("async+"))
        return f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}"

    @property
    def strategy(self):
        """The moving-window limiter over the configured storage.

        Memory storage uses the library's synchronous limiter: it does no I/O, so calling it
        from the event loop is safe and atomic, and it costs ~10 us a hit against ~75 us for
        the asynchronous one (which schedules an expiry sweep in a thread on every hit).
        """
        if self._strategy is None:
            options: dict[str, Any] = {"wrap_exceptions": True}
            scheme = urlparse(self.storage_uri).scheme
            if scheme == "async+memory":
                self._strategy = SyncMovingWindowRateLimiter(SyncMemoryStorage(**options))
                return self._strategy
            options["key_prefix"] = self.key_prefix
            if scheme in {"async+redis", "async+rediss", "async+redis+unix"}:
                options.update(REDIS_TIMEOUTS)
            self._strategy = MovingWindowRateLimiter(
                storage_from_string(self.storage_uri, **options)
            )
        return self._strategy

    async def meter(self, request) -> Meter | None:
        """Count ``request`` against ``write`` (unless GET/HEAD) and ``default``.

        None when rate limits are off; raises 429 over a limit, 503 without storage.
        """
        if not self.enabled:
            return None
        actor_id = (request.actor or {}).get("id")
        if actor_id is not None:
            meter = Meter(self, f"actor:{actor_id}", self.own_limits.get(str(actor_id), {}))
        else:
            meter = Meter(self, f"ip:{self.trusted_proxies.client_address(request.scope)}")
        # write first: a burst refused by it does not use up the default allowance
        is_read = request.method in READ_METHODS
        await meter.count(*(("default",) if is_read else ("write", "default")))
        return meter

    async def hit(self, name: str, who: str) -> Usage:
        item = self.items[name]
        try:
            strategy = self.strategy
            allowed = await await_me_maybe(strategy.hit(item, name, who))
            reset, remaining = await await_me_maybe(strategy.get_window_stats(item, name, who))
        except (StorageError, ConfigurationError, OSError, TimeoutError) as e:
            log.warning("rate limit storage %s failed: %r", self.storage_name, e)
            raise RateLimitUnavailable(
                f"Rate limiting is unavailable: its storage {self.storage_name} cannot be "
                "reached; try again later"
            ) from e
        usage = Usage(item, remaining, reset)
        if not allowed:
            retry = max(1, math.ceil(reset - time.time()))
            raise RateLimitExceeded(
                f"Rate limit exceeded: {item}; retry in {retry} second{'s' if retry > 1 else ''}",
                headers={"Retry-After": str(retry), **usage.headers()},
            )
        return usage


def _actor_limits(raw: Any) -> dict[str, dict[str, str]]:
    """``actors: {id: {default: ..., write: ...}}``, checked."""
    if not isinstance(raw, dict):
        raise ValueError("rate_limits.actors must map actor ids to {default: ..., write: ...}")
    limits = {}
    for actor_id, kinds in raw.items():
        if not isinstance(kinds, dict) or not kinds or set(kinds) - {"default", "write"}:
            raise ValueError(f'rate_limits.actors.{actor_id} takes "default" and/or "write" limits')
        limits[str(actor_id)] = kinds
    return limits


def _parse(key: str, value: Any) -> RateLimitItem:
    try:
        items = parse_many(value) if isinstance(value, str) else []
    except ValueError as e:
        raise ValueError(f'rate_limits.{key}: "{value}" is not a rate limit ({e})') from e
    if len(items) != 1:
        raise ValueError(f'rate_limits.{key}: "{value}" must be one limit such as "100/minute"')
    return items[0]


def _async_uri(storage: Any) -> str:
    """``memory://`` -> ``async+memory://``, ``redis://...`` -> ``async+redis://...``."""
    uri = str(storage) if str(storage).startswith("async+") else f"async+{storage}"
    if urlparse(uri).scheme not in SCHEMES:
        raise ValueError(
            f'rate_limits.storage: "{storage}" is not a storage; use memory:// or '
            "redis://host:port/db"
        )
    return uri


_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def install_rate_limiter(datasette, settings: RateLimits) -> RateLimiter:
    """Build the instance's limiter at start-up (a bad limit string fails start-up here)."""
    limiter = RateLimiter(settings, getattr(datasette, "actions", {}))
    _limiters[datasette] = limiter
    return limiter


def limiter_for(datasette) -> RateLimiter:
    return _limiters[datasette]
