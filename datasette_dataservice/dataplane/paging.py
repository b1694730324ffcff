"""``?_next=`` on a view (or a table without a primary key on PostgreSQL): an offset.

Core reads it with ``int()`` and fails with a 500 on anything else; both engines answer a
400 instead, for the same tokens.
"""

from __future__ import annotations

from datasette.utils.asgi import BadRequest


def offset_of(token: str) -> int:
    """The offset ``token`` names; BadRequest unless it is a non-negative 64-bit integer.

    >>> offset_of("20")
    20
    >>> offset_of("nope")
    Traceback (most recent call last):
    ...
    datasette.utils.asgi.BadRequest: _next must be an integer offset
    """
    try:
        offset = int(token) if token.isascii() and len(token) < 20 else -1
    except ValueError:
        offset = -1
    if offset < 0:
        raise BadRequest("_next must be an integer offset")
    return offset
