"""SQL text for psycopg: quoted names and Datasette's ``:name`` parameters as ``%(name)s``.

Pure functions. Every query built here goes through psycopg's placeholder parser, so a
literal ``%`` in SQL text (an identifier, a string constant) is written ``%%``.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_NAME = re.compile(r"[^\W\d]\w*")


def quote(name: str) -> str:
    """A quoted identifier, ready for a psycopg query string.

    >>> print(quote("shop_orders"), quote('a"b'), quote("100%"))
    "shop_orders" "a""b" "100%%"
    """
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"``.

    >>> qualified("s1", "t")
    '"s1"."t"'
    """
    return f"{quote(schema)}.{quote(name)}"


def literal(text: str) -> str:
    """A standard-conforming string constant, ready for a psycopg query string.

    >>> literal("it's 5%")
    "'it''s 5%%'"
    """
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def to_psycopg(sql: str) -> tuple[str, list[str]]:
    r"""Translate Datasette's ``:name`` parameters to psycopg's ``%(name)s``.

    Casts (``::int``), string constants (``'...'``, ``E'...'``, ``$tag$...$tag$``), quoted
    identifiers and comments are left alone; every other ``%`` is doubled. Returns the
    query and the parameter names in order of first use.

    >>> to_psycopg("select * from t where id = :id and x::int > :min")
    ('select * from t where id = %(id)s and x::int > %(min)s', ['id', 'min'])
    >>> to_psycopg(r"select ':no', $q$ :no $q$, E'\' :no', 'a'':no' -- :no")[1]
    []
    >>> to_psycopg('select "a:b%" from t')
    ('select "a:b%%" from t', [])
    >>> to_psycopg("select 100 % 7, :x /* :no */, :x")
    ('select 100 %% 7, %(x)s /* :no */, %(x)s', ['x'])
    """
    out: list[str] = []
    names: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char == "'":
            escaped = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _is_word(sql[i - 2]))
            end = _string_end(sql, i, backslashes=escaped)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif char == '"':
            end = _string_end(sql, i, quote_char='"')
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif char == "$" and (match := _DOLLAR_TAG.match(sql, i)) and not _word_before(sql, i):
            tag = match.group()
            close = sql.find(tag, match.end())
            end = n if close == -1 else close + len(tag)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = _comment_end(sql, i)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and (match := _NAME.match(sql, i + 1)):
            name = match.group()
            if name not in names:
                names.append(name)
            out.append(f"%({name})s")
            i = match.end()
        elif char == "%":
            out.append("%%")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out), names


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _word_before(sql: str, i: int) -> bool:
    return i > 0 and (_is_word(sql[i - 1]) or sql[i - 1] == "$")


def _string_end(sql: str, start: int, quote_char: str = "'", backslashes: bool = False) -> int:
    """The index just past the constant opened at ``start`` (doubled quotes stay inside)."""
    i, n = start + 1, len(sql)
    while i < n:
        if backslashes and sql[i] == "\\":
            i += 2
            continue
        if sql[i] == quote_char:
            if i + 1 < n and sql[i + 1] == quote_char:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _comment_end(sql: str, start: int) -> int:
    """Block comments nest in PostgreSQL."""
    depth, i, n = 0, start, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n
