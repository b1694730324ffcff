"""Reading requests: bounded JSON bodies with known keys, query-string flags, page sizes."""

from __future__ import annotations

import re
from typing import Any

from datasette.utils.asgi import PayloadTooLarge

from ..errors import BadRequest, DataServiceError
from ..schema import json_text

DIGITS = re.compile(r"[0-9]{1,18}")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def json_depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (1 for a flat object), counting no further than ``limit``+1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


async def body_bytes(request, max_bytes: int) -> bytes:
    """The request body, at most ``max_bytes`` (the data service's ``max_body_bytes``, in
    place of Datasette's ``max_post_body_bytes``); past it, 413 in Datasette's error shape."""
    too_large = DataServiceError(f"Request body is larger than {max_bytes} bytes", status=413)
    length = request.headers.get("content-length") or ""
    if DIGITS.fullmatch(length) and int(length) > max_bytes:
        raise too_large
    try:
        raw = await request.post_body(max_bytes=max_bytes)
    except PayloadTooLarge as error:
        raise too_large from error
    if len(raw) > max_bytes:
        raise too_large
    return raw


async def json_body(
    request, allowed: set[str], max_bytes: int, max_depth: int = 32
) -> dict[str, Any]:
    """The request's JSON object; 413 past ``max_bytes``, 400 for bad JSON or unknown keys."""
    raw = await body_bytes(request, max_bytes)
    if not raw.strip():
        raise BadRequest("Request body must be a JSON object")
    try:
        body = json_text.loads(raw)
    except json_text.TooDeep as e:
        raise BadRequest(f"JSON nests more than {max_depth} levels deep") from e
    except ValueError as e:
        raise BadRequest(f"Invalid JSON: {e}") from e
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    if json_depth(body, max_depth) > max_depth:
        raise BadRequest(f"JSON nests more than {max_depth} levels deep")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            [
                f'Unknown key "{key}"; allowed keys are {", ".join(sorted(allowed))}'
                for key in unknown
            ]
        )
    return body


def flag(request, name: str) -> bool | None:
    """A true/false query-string parameter; None when absent."""
    value = request.args.get(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise BadRequest(f'"{name}" must be true or false')


def page_size(request) -> int:
    value = request.args.get("_size")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if value == "max":
        return MAX_PAGE_SIZE
    if not DIGITS.fullmatch(value) or not 0 < int(value) <= MAX_PAGE_SIZE:
        raise BadRequest(f'"_size" must be an integer from 1 to {MAX_PAGE_SIZE}, or "max"')
    return int(value)


def optional_int(request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    return positive_int(value, name)


def positive_int(value: str, name: str) -> int:
    """An ASCII-digit integer that fits SQLite's INTEGER; 400 otherwise."""
    if not DIGITS.fullmatch(value):
        raise BadRequest(f'"{name}" must be a positive integer')
    return int(value)
