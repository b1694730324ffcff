"""The SQL behind one table page, as core builds it for SQLite (views/table.py), for
PostgreSQL. Pure: request arguments and a Relation in, SQL and parameters out.

Core's semantics kept: ``_col``/``_nocol``, ``_sort``/``_sort_desc`` (SQLite orders NULLs
first ascending, last descending; text byte-wise), ``_size`` (``max``, the
``max_returned_rows`` ceiling), keyset ``_next`` tokens ``[sort value,]pk[,pk...]`` on
tables with a primary key, offsets on views. A datatable without a primary key has a
``rowid`` identity column (providers/postgres_ddl.py), so it pages by rowid as on SQLite;
any other table without one pages by offset like a view, in physical (``ctid``) order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from datasette.utils import urlsafe_components
from datasette.utils.asgi import BadRequest
from datasette.views.base import DatasetteError

from ..paging import NOT_FOR_THIS_SORT, offset_of
from . import filters, readable
from .introspect import Relation
from .sqltext import qualified, quote
from .through import ResolvedThrough, through_clause

COUNT_LIMIT = 10000  # core's Database.count_limit
SORT_ALIAS = "__dataservice_sort"


@dataclass
class TableQuery:
    sql: str
    params: dict[str, Any]
    shown_params: dict[str, Any]
    count_sql: str
    count_params: dict[str, Any]
    columns: list[str]  # selected, in order (a hidden sort column is not among them)
    sort: str | None
    sort_desc: str | None
    page_size: int
    offset: int | None  # paging by offset (views, tables without a primary key)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    raw_where: bool = False  # has ?_where= SQL: run it as a user's query is run
    where_sql: str = ""  # the page's " WHERE ..." (filters, keyset token; params): what core
    # counts facets over
    human_extra: list[str] = field(default_factory=list)  # ``_through``'s descriptions
    count_all_sql: str = ""  # every matching row, uncapped: core's ``/-/count`` (count_params)

    @property
    def sort_column(self) -> str | None:
        return self.sort or self.sort_desc


def shown_sql(sql: str) -> str:
    """A psycopg query as Datasette shows SQL: ``:p0`` placeholders, single ``%``.

    >>> shown_sql('select * from "t" where "a" like %(p0)s and b = \\'100%%\\'')
    'select * from "t" where "a" like :p0 and b = \\'100%\\''
    """
    return re.sub(r"%\((\w+)\)s", r":\1", sql).replace("%%", "%")


def columns_to_select(relation: Relation, args) -> list[str]:
    """Core's ``_col`` / ``_nocol``, with its error messages."""
    table_columns, pks = relation.column_names, relation.pks
    columns = list(table_columns)
    if "_col" in args:
        columns = list(pks)
        wanted = args.getlist("_col")
        bad = [c for c in wanted if c not in table_columns]
        if bad:
            raise DatasetteError("_col={} - invalid columns".format(", ".join(bad)), status=400)
        columns.extend(c for c in dict.fromkeys(wanted) if c not in columns)
    if "_nocol" in args:
        unwanted = args.getlist("_nocol")
        bad = [c for c in unwanted if c not in table_columns or c in pks]
        if bad:
            raise DatasetteError("_nocol={} - invalid columns".format(", ".join(bad)), status=400)
        columns = [c for c in columns if c not in unwanted]
    if not columns:  # core selects nothing, which SQLite refuses (a view has no primary key)
        raise DatasetteError('near "from": syntax error', title="Invalid SQL", status=400)
    return columns


def sort_order(relation: Relation, args) -> tuple[str | None, str | None]:
    sort, sort_desc = args.get("_sort"), args.get("_sort_desc")
    if sort and sort_desc:
        raise DatasetteError("Cannot use _sort and _sort_desc at the same time", status=400)
    sortable = set(relation.column_names)
    for name in (sort, sort_desc):
        if name and name not in sortable:
            raise DatasetteError(f"Cannot sort table by {name}", status=400)
    return sort or None, sort_desc or None


def page_size(args, default: int, max_returned_rows: int) -> int:
    size = args.get("_size")
    if not size:
        return default
    if size == "max":
        return max_returned_rows
    try:
        value = int(size)
        if value < 0:
            raise ValueError
    except ValueError:
        raise BadRequest("_size must be a positive integer") from None
    if value > max_returned_rows:
        raise BadRequest(f"_size must be <= {max_returned_rows}")
    return value


def tiebreakers(relation: Relation) -> list[str]:
    """What orders rows that the sort leaves tied: the primary key; a jsonb view's
    document id; a table's physical order."""
    if relation.pks:
        return [filters._ordered(relation.column(pk), pk) for pk in relation.pks]
    if relation.is_view:
        return [quote("_id")] if "_id" in relation.column_names else []
    return ["ctid"]


def build(
    relation: Relation,
    schema: str,
    args,
    default_size: int,
    max_returned_rows: int,
    row_cap: int | None = None,
    booleans: filters.Readings | None = None,
    reals: frozenset[str] = frozenset(),
    throughs: list[ResolvedThrough] | tuple = (),
) -> TableQuery:
    """The page's query; ``row_cap`` bounds the rows fetched (core truncates results);
    ``booleans``: how the table's boolean fields read filter values; ``reals``: a view's
    columns of Table Schema numbers."""
    pks = relation.pks
    keyset = bool(pks) and not relation.is_view
    columns = columns_to_select(relation, args)
    pairs = filters.filter_pairs(args)
    where = filters.build_where(pairs, relation, booleans, reals)
    where.clauses += [through_clause(where, schema, resolved) for resolved in throughs]
    # ``?_where=`` SQL (the caller has checked execute-sql and runs it read-only)
    where.clauses += ["(" + w.replace("%", "%%") + ")" for w in args.getlist("_where")]
    sort, sort_desc = sort_order(relation, args)
    sort_name = sort or sort_desc
    count_where = list(where.clauses)
    count_params = dict(where.params)

    order = []
    if sort_name:
        expression = filters._ordered(relation.column(sort_name), sort_name)
        order.append(f"{expression} NULLS FIRST" if sort else f"{expression} DESC NULLS LAST")
    order += tiebreakers(relation)

    offset = None
    token = args.get("_next")
    if token and not keyset:
        offset = offset_of(token)
    elif token:
        where.clauses.append(_after(relation, where, token, sort, sort_desc))

    size = page_size(args, default_size, max_returned_rows)
    select = [quote(c) for c in columns]
    if sort_name and sort_name not in columns:
        select.append(f"{quote(sort_name)} AS {quote(SORT_ALIAS)}")
    table = qualified(schema, relation.name)
    where_sql = f" WHERE {' AND '.join(where.clauses)}" if where.clauses else ""
    order_sql = f" ORDER BY {', '.join(order)}" if order else ""
    limit = size + 1 if row_cap is None else min(size + 1, row_cap)
    sql = f"SELECT {', '.join(select)} FROM {table}{where_sql}{order_sql} LIMIT {limit}"
    if offset:
        sql += f" OFFSET {offset}"
    count_where_sql = f" WHERE {' AND '.join(count_where)}" if count_where else ""
    count_sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM {table}{count_where_sql}"
        f" LIMIT {COUNT_LIMIT + 1}) AS counted"
    )
    return TableQuery(
        sql=sql,
        params=where.params,
        shown_params=where.shown,
        count_sql=count_sql,
        count_params=count_params,
        columns=columns,
        sort=sort,
        sort_desc=sort_desc,
        page_size=size,
        offset=offset if not keyset else None,
        pairs=pairs,
        raw_where="_where" in args,
        where_sql=where_sql,
        human_extra=[resolved.through.human for resolved in throughs],
        count_all_sql=f"SELECT count(*) FROM {table}{count_where_sql}",
    )


def _compare(relation: Relation, where: filters.Where, name: str, operator: str, value) -> str:
    """``name <operator> value`` with SQLite's answer for a value the type cannot hold."""
    return filters.compare(relation.column(name), name, operator, where.add_param(value), value)


def _after(relation: Relation, where: filters.Where, token: str, sort, sort_desc) -> str:
    """Core's keyset condition: rows after the token's (sort value, primary key)."""
    pks = relation.pks
    components = urlsafe_components(token)
    sort_name = sort or sort_desc
    sort_value: str | None = None
    if sort_name and len(components) > 1:
        sort_value = None if token.split(",")[0] == "$null" else components[0]
        components = components[1:]
    pk_terms = []
    if len(components) == len(pks):
        alternatives = []
        for i in range(len(pks)):
            terms = [_compare(relation, where, pks[j], "=", components[j]) for j in range(i)]
            terms.append(_compare(relation, where, pks[i], ">", components[i]))
            alternatives.append("(" + " AND ".join(terms) + ")")
        pk_terms.append("(" + " OR ".join(alternatives) + ")")
    if not sort_name:
        return " AND ".join(pk_terms) if pk_terms else "TRUE"
    if not pk_terms:
        raise DatasetteError(NOT_FOR_THIS_SORT, status=400)
    after_pk = pk_terms[0]
    column = quote(sort_name)
    if sort_value is None:
        if sort_desc:
            return f"({column} IS NULL AND {after_pk})"
        return f"({column} IS NOT NULL OR ({column} IS NULL AND {after_pk}))"
    beyond = _compare(relation, where, sort_name, ">" if sort else "<", sort_value)
    if sort_desc:
        beyond = f"{beyond} OR {column} IS NULL"
    same = _compare(relation, where, sort_name, "=", sort_value)
    return f"({beyond} OR ({same} AND {after_pk}))"


def row_query(
    relation: Relation, schema: str, pks: list[str], pk_values: list[str]
) -> tuple[str, dict[str, Any]] | None:
    """The SELECT of one row by its key values (as core reads them from the URL); None when
    no row can match (SQLite: a number never equals text that is not one)."""
    params = {f"p{i}": value for i, value in enumerate(pk_values)}
    terms = []
    for i, (pk, value) in enumerate(zip(pks, pk_values, strict=True)):
        column, placeholder = relation.column(pk), f"%(p{i})s"
        plain = readable.fits(column, value)  # a plain equality: the primary key's index
        terms.append(
            f"{quote(pk)} = {placeholder}"
            if plain
            else filters.compare(column, pk, "=", placeholder, value)
        )
    if "FALSE" in terms:
        return None
    return f"SELECT * FROM {qualified(schema, relation.name)} WHERE {' AND '.join(terms)}", params
