"""Table page arguments no engine can answer alike: ones with a NUL character.

PostgreSQL text cannot hold the NUL character, so no stored value holds one and a filter
naming one cannot be bound there; SQLite's LIKE and GLOB read text only up to it, and core
fails with a 500 on a ``_where`` or facet column that holds one. A filter (its column, its
value, an item of its ``__in`` list), ``_next``, ``_where`` or ``_facet*`` argument with one
is a 400 on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from datasette.views.base import DatasetteError

NUL_MESSAGE = "Arguments cannot contain the NUL character (%00)"
_CHECKED = ("_next", "_where", "_facet")


def checked_arguments(args) -> Iterator[tuple[str, str]]:
    """The (key, value) pairs of ``args`` (a MultiParams) that are filters or name SQL."""
    for key in args:
        if not key.startswith("_") or "__" in key or key.startswith(_CHECKED):
            for value in args.getlist(key):
                yield key, value


def refuse_nul(pairs: Iterable[tuple[str, object]]) -> None:
    """Raise a 400 when a key or (text) value holds a NUL character.

    >>> refuse_nul([("name", "Ada"), ("id__in", 1)])
    >>> refuse_nul([("name", "A\\x00")])
    Traceback (most recent call last):
    ...
    datasette.views.base.DatasetteError: Arguments cannot contain the NUL character (%00)
    """
    for key, value in pairs:
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise DatasetteError(NUL_MESSAGE, title="Invalid argument", status=400)
