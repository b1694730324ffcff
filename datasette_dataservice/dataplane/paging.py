"""``?_next=`` on a view (or a table without a primary key on PostgreSQL): an offset.

Core reads it with ``int()`` and fails with a 500 on anything else; both engines answer a
400 instead, for the same tokens. On a sorted table, a token of more values than the sort
value and the primary key is a 400 with one message on both (core: SQLite's syntax error).
"""

from __future__ import annotations

from datasette.utils import urlsafe_components
from datasette.utils.asgi import BadRequest
from datasette.views.base import DatasetteError

NOT_FOR_THIS_SORT = "Invalid _next token for this sort order"


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


def check_sorted_token(token: str, pks: list[str]) -> None:
    """A sorted table's ``_next``: one value (the primary key) or the sort value and the
    primary key's.

    >>> check_sorted_token("3,4", ["id"])
    >>> check_sorted_token("1,2,3", ["id"])
    Traceback (most recent call last):
    ...
    datasette.views.base.DatasetteError: Invalid _next token for this sort order
    """
    count = len(urlsafe_components(token))
    if count > 1 and count != len(pks) + 1:
        raise DatasetteError(NOT_FOR_THIS_SORT, status=400)
