"""The SQL of core's foreign-key autocomplete (``/db/table/-/autocomplete``, views/table.py
``TableAutocompleteView``) for a Postgres-backed table. Pure: a Relation in, SQL out.

Core's semantics kept: the primary key and the label column matched with ``LIKE
'%q%'`` (ASCII case folded, ``\\`` escaping, as SQLite's ``LIKE ... ESCAPE char(92)``), on
each column's text as SQLite stores it (stored_text.py); an exact key match first, then
label matches, shorter labels first, then the key; ``_initial`` lists the ten highest keys.
When that runs out of time, core tries a prefix match on the first key column alone
(``fallback``).
"""

from __future__ import annotations

from typing import Any

from .filters import ASCII_UPPER
from .introspect import Relation
from .sqltext import qualified, quote
from .stored_text import ordered, text

LIMIT = 10
_FOLD = str.maketrans(ASCII_UPPER, ASCII_UPPER.lower())


def escape_like(value: str) -> str:
    r"""Core's ``_escape_like``.

    >>> escape_like("5%_a\\b")
    '5\\%\\_a\\\\b'
    """
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def params_for(q: str) -> dict[str, Any]:
    """The query's parameters: ``q`` as typed, the LIKE patterns ASCII-folded."""
    escaped = escape_like(q)
    return {
        "q": q,
        "like": f"%{escaped}%".translate(_FOLD),
        "prefix": f"{escaped}%".translate(_FOLD),
    }


def _text(relation: Relation, name: str) -> str:
    return text(relation.column(name), name)


def _like(relation: Relation, name: str, pattern: str) -> str:
    folded = f"translate({_text(relation, name)}, '{ASCII_UPPER}', '{ASCII_UPPER.lower()}')"
    return f"{folded} LIKE %({pattern})s ESCAPE '\\'"


def _key_order(relation: Relation, pks: list[str]) -> list[str]:
    return [f"{ordered(relation.column(pk), pk)} NULLS FIRST" for pk in pks]


def selected(pks: list[str], label_column: str | None) -> list[str]:
    return list(dict.fromkeys(pks + ([label_column] if label_column else [])))


def _select(relation: Relation, schema: str, pks: list[str], label_column: str | None) -> str:
    columns = ", ".join(quote(c) for c in selected(pks, label_column))
    return f"SELECT {columns} FROM {qualified(schema, relation.name)}"


def search(
    relation: Relation, schema: str, pks: list[str], label_column: str | None, initial: bool
) -> str:
    """Core's first query: rows whose key or label contains ``q`` (``initial``: any row)."""
    select = _select(relation, schema, pks, label_column)
    if initial:
        first = f"{ordered(relation.column(pks[0]), pks[0])} DESC NULLS LAST"
        order = [first, *_key_order(relation, pks[1:])]
        return f"{select} ORDER BY {', '.join(order)} LIMIT {LIMIT}"
    where = " OR ".join(_like(relation, c, "like") for c in selected(pks, label_column))
    order = []
    if len(pks) == 1:
        order.append(f"CASE WHEN {_text(relation, pks[0])} = %(q)s THEN 0 ELSE 1 END")
    if label_column:
        label_like = _like(relation, label_column, "like")
        order.append(f"CASE WHEN {label_like} THEN 0 ELSE 1 END")
        length = f"length({_text(relation, label_column)})"
        order.append(f"CASE WHEN {label_like} THEN {length} END NULLS FIRST")
    else:
        order.append(f"length({_text(relation, pks[0])}) NULLS FIRST")
    order += _key_order(relation, pks)
    return f"{select} WHERE {where} ORDER BY {', '.join(order)} LIMIT {LIMIT}"


def fallback(relation: Relation, schema: str, pks: list[str], label_column: str | None) -> str:
    """Core's second try: the first key column starting with ``q`` (a text key compared
    byte-wise from ``q``, so its index can serve)."""
    first = relation.column(pks[0])
    where = _like(relation, pks[0], "prefix")
    if first is not None and first.kind == "text":
        column = f'{quote(first.name)} COLLATE "C"'
        where = f"{column} >= %(q)s AND left({column}, length(%(q)s)) = %(q)s AND {where}"
    select = _select(relation, schema, pks, label_column)
    return f"{select} WHERE {where} ORDER BY {', '.join(_key_order(relation, pks))} LIMIT {LIMIT}"


def response_rows(
    rows: list[dict[str, Any]], pks: list[str], label_column: str | None
) -> list[dict[str, Any]]:
    """Core's ``_autocomplete_response_rows``."""
    out = []
    for row in rows:
        item: dict[str, Any] = {"pks": {pk: row[pk] for pk in pks}}
        if label_column:
            item["label"] = row[label_column]
        out.append(item)
    return out
