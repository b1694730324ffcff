"""The URLs of the contract corpus (tests/test_contract_corpus.py) and the data they read:
a datatable with every field type, nulls, unicode, negative and fractional numbers; URL
templates generated lookup by lookup, argument by argument."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "qty", "type": "integer"},
        {"name": "price", "type": "number"},
        {"name": "active", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "datetime"},
        {"name": "at", "type": "time"},
        {"name": "yr", "type": "year"},
        {"name": "tags", "type": "array"},
        {"name": "meta", "type": "object"},
    ],
    "primaryKey": ["id"],
}
FIELDS = [f["name"] for f in SCHEMA["fields"]]
# Times and datetimes carry their UTC offset: a Postgres-backed flat_table stores them as
# TIME WITH TIME ZONE / TIMESTAMPTZ, which read a naive "03:04:05" as UTC and show it back
# as "03:04:05Z" where SQLite keeps the text as written (a storage difference left open).
ROWS = [
    {
        "id": 1,
        "name": "Ada",
        "qty": 3,
        "price": 9.5,
        "active": True,
        "born": "1815-12-10",
        "seen": "2024-01-02T03:04:05Z",
        "at": "03:04:05Z",
        "yr": 1843,
        "tags": ["a", "b"],
        "meta": {"k": 1, "s": "x"},
    },
    {
        "id": 2,
        "name": "brian",
        "qty": -3,
        "price": -0.5,
        "active": False,
        "born": None,
        "seen": "2024-05-06T07:08:09Z",
        "at": "12:00:00Z",
        "yr": 1999,
        "tags": [],
        "meta": {},
    },
    {"id": 3, "name": "", "qty": 0, "price": 0, "tags": ["é"], "meta": {"k": "é"}},
    {
        "id": 4,
        "name": "Éva Ω",
        "qty": 7,
        "price": 3,
        "active": True,
        "born": "2001-01-01",
        "seen": "2001-01-01T23:59:59Z",
        "at": "23:59:59+02:00",
        "yr": 2001,
        "tags": ["b", "c"],
    },
    {"id": 5, "name": None, "qty": None, "price": 120.25, "active": False, "born": "1999-09-09"},
    {
        "id": 6,
        "name": "a_b%c",
        "qty": 3,
        "price": 1e-3,
        "active": None,
        "born": "2001-01-01",
        "seen": "2001-01-01T00:00:00Z",
        "at": "00:00:00.5Z",
        "yr": 2001,
        "tags": ["a"],
        "meta": {"nested": {"a": [1, 2]}},
    },
    {"id": 7, "name": "Dan", "qty": 12, "price": 12, "active": True, "yr": 1, "tags": ["12"]},
    {"id": 8, "name": "dan", "qty": 100, "price": 99.99, "born": "2024-02-29", "at": "07:30:00Z"},
]


@dataclass(frozen=True)
class Case:
    category: str
    path: str  # a template: {t} the table (or jsonb view), {tp} the stored table, {db}
    kind: str = "json"  # json | html | csv | walk (follow next_url to the end)
    user_sql: bool = False  # an error here is the engine's own message (KNOWN_DIFFERENCES)

    @property
    def id(self) -> str:
        return f"{self.category}:{self.kind}:{self.path}"


def _q(**args) -> str:
    return urllib.parse.urlencode(args)


# Filters -----------------------------------------------------------------------------------

VALUES = {
    "id": ["1", "3", "-1", "2.5", "4.0", "abc", "", "99999999999999999999"],
    "name": ["Ada", "ada", "Éva Ω", "é", "", "a", "%", "_", "a_b%c", "Dan"],
    "qty": ["3", "-3", "0", "1.5", "-2.5", "x", "", "1e1"],
    "price": ["3", "9.5", "-0.5", "0.001", "1e2", "x", "", "120.250"],
    "active": ["true", "false", "True", "FALSE", "1", "0", "yes", "", "x"],
    "born": ["2001-01-01", "1999", "2001-13-01", "1815-12-10", "x", "", "2024-02-29"],
    "seen": ["2024-01-02T03:04:05Z", "2024-01-02", "2024-05-06T07:08:09", "2001", "x", ""],
    "at": ["03:04:05Z", "12:00", "12:00:00Z", "23", "00:00:00.5Z", "x", ""],
    "yr": ["2001", "1999", "-5", "2001.0", "x", ""],
    "tags": ["a", "b", "é", '["a"]', '["a", "b"]', "", "12"],
    "meta": ['{"k": 1}', "{}", "k", "", "x"],
}
VALUE_LOOKUPS = ["exact", "not", "contains", "notcontains", "endswith", "startswith"]
VALUE_LOOKUPS += ["gt", "gte", "lt", "lte", "like", "notlike", "glob", "in", "notin"]
VALUE_LOOKUPS += ["arraycontains", "arraynotcontains", "date"]
FLAG_LOOKUPS = ["isnull", "notnull", "isblank", "notblank"]
PATTERNS = {"like": ["a%", "%A_", "_"], "notlike": ["%a%"], "glob": ["a*", "*[bB]*", "?", "[!a]*"]}
IN_LISTS = {
    "id": ["1,3,9", "[1, 2.0]", "x,2", "", "[1"],
    "name": ["Ada,Dan", '["Ada", null]', "é,Éva Ω", ""],
    "qty": ["3,-3", "1.5,0", "[3, true]"],
    "price": ["3,9.5", "0.001,12.0", "x"],
    "active": ["true,false", "1", "[true]", "yes,no", "True,x"],
    "born": ["2001-01-01,1999-09-09", "x"],
    "seen": ["2024-01-02T03:04:05Z", "2024-01-02 03:04:05"],
    "at": ["03:04:05,12:00:00"],
    "yr": ["2001,1999", "1"],
    "tags": ['["a", "b"]', "a"],
    "meta": ['{"k": 1}'],
}


def filter_cases() -> list[Case]:
    """Every lookup on every field: ``exact`` with each of the field's values, any other
    lookup with two of them, taken in turn so that each value meets several lookups."""
    cases = []
    for name, values in VALUES.items():
        for i, lookup in enumerate(VALUE_LOOKUPS):
            turn = [values[i % len(values)], values[(i + 1 + len(values) // 2) % len(values)]]
            chosen = values if lookup == "exact" else turn
            if lookup in ("in", "notin"):
                chosen = IN_LISTS[name]
            for value in PATTERNS.get(lookup, chosen):
                cases.append(Case("filters", "{t}.json?" + _q(**{f"{name}__{lookup}": value})))
        for lookup in FLAG_LOOKUPS:
            cases.append(Case("filters", "{t}.json?" + _q(**{f"{name}__{lookup}": "1"})))
        cases.append(Case("filters", "{t}.json?" + _q(**{name: values[0]})))  # plain col=value
    cases += [
        Case("filters", "{t}.json?" + q)
        for q in [
            "price__gt=1&name__startswith=A",
            "qty__gte=0&qty__lte=7&active=true",
            "name__contains=a&name__contains=d",
            "id__not=1&id__not=2",
            "nope=1",
            "nope__exact=1",
            "select=1",
            "select__in=1",
            "%5Bbad%5D__in=1",
            "id__nope=1",
            "_filter_column=name&_filter_op=exact&_filter_value=Ada",
        ]
    ]
    return cases


# Table arguments ---------------------------------------------------------------------------


def sort_cases() -> list[Case]:
    cases = []
    for name in FIELDS:
        for arg in ("_sort", "_sort_desc"):
            cases.append(Case("sort", f"{{t}}.json?{arg}={name}"))
            cases.append(Case("sort", f"{{t}}.json?{arg}={name}&_size=3", "walk"))
    cases += [
        Case("sort", "{t}.json?_sort=nope"),
        Case("sort", "{t}.json?_sort=id&_sort_desc=id"),
        Case("sort", "{t}.json?_sort=price&price__gt=0"),
        Case("sort", "{t}.json?_sort=name&_sort_by_desc=1"),
    ]
    return cases


def size_cases() -> list[Case]:
    cases = [Case("size", f"{{t}}.json?_size={s}") for s in ["0", "1", "3", "max", "8", "9"]]
    cases += [Case("size", f"{{t}}.json?_size={s}") for s in ["-1", "x", "1.5", "", "99999"]]
    cases += [Case("size", f"{{t}}.json?_size={s}", "walk") for s in ["1", "2", "5", "7"]]
    return cases


def next_cases() -> list[Case]:
    cases = [Case("next", "{t}.json?" + q, "walk") for q in ["_size=2", "_size=2&qty__gte=0"]]
    cases += [
        Case("next", "{t}.json?_size=2&_sort=born&born__notnull=1", "walk"),
        Case("next", "{t}.json?_size=2&_shape=objects&_extra=count", "walk"),
    ]
    cases += [
        Case("next", "{t}.json?" + _q(_next=token))
        for token in ["nope", "3", "0", "-1", "99", "", "1,2", "$null"]
    ]
    cases += [
        Case("next", "{t}.json?" + _q(_next=token, _sort="price"))
        for token in ["3,4", "$null,1", "x,1", "3"]
    ]
    return cases


def shape_cases() -> list[Case]:
    cases = []
    for shape in ["objects", "arrays", "array", "object", "arrayfirst", "invalid", ""]:
        cases.append(Case("shape", f"{{t}}.json?_shape={shape}"))
        cases.append(Case("shape", f"{{t}}.json?_shape={shape}&_size=2&name__notnull=1"))
    cases += [
        Case("shape", "{t}.json?_shape=array&_nl=on"),
        Case("shape", "{t}.json?_shape=arrayfirst&_col=name"),
        Case("shape", "{t}.json?_shape=object&_extra=primary_keys"),
        Case("shape", "{t}.json?_json=meta&_shape=objects"),
        Case("shape", "{t}.json?_json=tags&_json=meta"),
        Case("shape", "{t}.json?_shape=array&_size=0"),
    ]
    return cases


def column_cases() -> list[Case]:
    cases = [Case("columns", f"{{t}}.json?_col={name}") for name in FIELDS]
    cases += [Case("columns", f"{{t}}.json?_nocol={name}") for name in FIELDS]
    cases += [
        Case("columns", "{t}.json?" + q)
        for q in [
            "_col=name&_col=price",
            "_col=price&_col=name&_col=price",
            "_col=nope",
            "_nocol=nope",
            "_col=name&_nocol=name",
            "_nocol=name&_nocol=price&_sort=price",
            "_col=name&_sort=qty&_size=3",
            "_col=_id",
        ]
    ]
    return cases


def where_cases() -> list[Case]:
    return [
        Case("where", "{t}.json?" + _q(_where=w), user_sql=True)
        for w in [
            "id > 2",
            "qty < 0 or price > 100",
            "name = 'Ada'",
            "name is null",
            "id in (1, 2)",
            "qty > 0 and id < 7",
            "nope = 1",
            "id >",
        ]
    ] + [
        Case("where", "{t}.json?" + _q(_where="id > 2", id__lt="6")),
        Case("where", "{t}.json?" + _q(_where="id > 1") + "&" + _q(_where="id < 4")),
    ]


def extra_cases() -> list[Case]:
    supported = [
        "count",
        "count_truncated",
        "human_description_en",
        "columns",
        "all_columns",
        "primary_keys",
        "query",
        "database",
        "table",
        "database_color",
        "is_view",
        "private",
        "metadata",
        "column_types",
    ]
    cases = [Case("extras", f"{{t}}.json?_extra={name}") for name in supported]
    cases += [
        Case("extras", "{t}.json?" + q)
        for q in [
            "_extra=count,columns&_extra=primary_keys",
            "_extra=nope",
            "_extra=",
            "_extra=count&_nocount=1",
            "_extra=count&qty__gt=0",
            "_extra=human_description_en&qty__gt=0&name__contains=a&_sort_desc=qty",
            "_extra=query&" + _q(name__in="Ada,Dan", price__gt="1.5", active="true"),
            "_extra=count&_shape=array",
            "_search=Ada",
            "_search=Ada&_extra=count",
            "_searchmode=raw&_search=x",
        ]
    ]
    return cases


def pending_extra_cases() -> list[Case]:
    names = [
        "column_details",
        "custom_table_templates",
        "debug",
        "display_columns",
        "expandable_columns",
        "extras",
        "facet_results",
        "facets_timed_out",
        "form_hidden_args",
        "render_cell",
        "renderers",
        "request",
        "set_column_type_ui",
        "sorted_facet_results",
        "suggested_facets",
        "table_definition",
        "view_definition",
        "_html",
    ]
    return [Case("more_extras", f"{{t}}.json?_extra={name}") for name in names]


def row_cases() -> list[Case]:
    keys = ["1", "5", "8", "999", "0", "-1", "abc", "1.0", "1,2", "", "~2D1"]
    cases = [Case("rows", f"{{tp}}/{key}.json") for key in keys]
    cases += [Case("rows", f"{{tp}}/{key}.json?_shape=objects") for key in ("1", "2")]
    cases += [Case("rows", f"{{tp}}/1.json?_extra={e}") for e in ("columns", "primary_keys")]
    cases += [Case("rows", "{tp}/1.json?_extra=query")]
    cases += [Case("rows", f"{{tp}}/{key}", "html") for key in ("1", "4", "999")]
    return cases


PORTABLE_SQL = [
    "select id, name from {table} order by id",
    "select count(*) as n from {table}",
    "select id, qty, price from {table} where qty > :low order by id",
    "select name, qty from {table} where name is not null order by name, id",
    "select 1 as one, 'x' as x",
    "select id from {table} where id in (1, 3, 5) order by id desc",
    "select id, active from {table} where id < 4 order by id",
    "select max(id) as m, min(id) as lo from {table}",
    "select nope from {table}",
    "update {table} set qty = 1",
    "select id from {table} where id = :missing",
]


def query_cases() -> list[Case]:
    cases = []
    for sql in PORTABLE_SQL:
        cases.append(Case("query", "{db}/-/query.json?" + _q(sql=sql, low="0"), user_sql=True))
    cases += [
        Case("query", "{db}/-/query.json?" + _q(sql=PORTABLE_SQL[0], _shape="array")),
        Case("query", "{db}/-/query.json?" + _q(sql=PORTABLE_SQL[0], _shape="arrays")),
        Case("query", "{db}/-/query.json?" + _q(sql=PORTABLE_SQL[0], _extra="columns")),
        Case("query", "{db}/-/query.json"),
        Case("query", "{db}/-/query?" + _q(sql=PORTABLE_SQL[0]), "html"),
    ]
    return cases


def error_cases() -> list[Case]:
    return [
        Case("errors", path)
        for path in [
            "{db}/nope.json",
            "{db}/nope",
            "{t}.json?_sort=nope",
            "{t}.json?nope__in=1",
            "{t}.json?nope__arraycontains=1",
            "{t}.json?%5Bbad%5D=1",
            "{t}.json?_next=nope&_sort=id",
            "{t}.json?_size=abc",
            "{t}.json?_size=-5",
            "{t}.json?_col=nope&_nocol=nope",
            "{t}.json?_extra=nope,count",
            "{t}.json?id__in=%5B1",
            "{t}.nope",
            "{tp}/1.nope",
        ]
    ]


def html_cases() -> list[Case]:
    return [
        Case("html", "{t}?" + q, "html")
        for q in [
            "",
            "_sort=price",
            "_sort_desc=born",
            "qty__gt=0&_size=3",
            "active=true",
            "name__contains=a",
            "_col=name&_col=qty",
            "_size=2&_next=2",
            "_nocount=1",
        ]
    ] + [Case("html", "{t}?_sort=nope", "html"), Case("html", "{t}?_size=x", "html")]


def facet_cases() -> list[Case]:
    cases = [Case("facets", f"{{t}}.json?_facet={name}") for name in FIELDS]
    cases += [Case("facets", "{t}.json?_facet_array=tags")]
    cases += [Case("facets", f"{{t}}.json?_facet_date={name}") for name in ("born", "seen")]
    cases += [Case("facets", "{t}.json?_extra=suggested_facets")]
    cases += [Case("facets", "{t}.json?_facet=active&active=true&_facet=yr")]
    cases += [Case("facets", "{t}.json?_facet=nope")]
    cases += [
        Case("facets", "{t}.json?_facet=%7Bbad"),
        Case("facets", "{t}.json?_facet=%7B%22x%22%3A1%7D"),
    ]
    cases += [Case("facets", "{t}?_facet=name", "html")]
    return cases


def csv_cases() -> list[Case]:
    return [
        Case("csv", "{t}.csv?" + q, "csv")
        for q in [
            "",
            "_size=max",
            "_stream=on",
            "_labels=on",
            "_sort=price&_size=2",
            "qty__gt=0",
            "_col=name",
            "_size=max&_stream=on&_dl=1",
        ]
    ] + [Case("csv", "{db}/-/query.csv?" + _q(sql=PORTABLE_SQL[0]), "csv")]


def canned_cases() -> list[Case]:
    return [Case("canned", "{db}/-/queries.json"), Case("canned", "{db}/by_qty.json?low=0")]


def found_cases() -> list[Case]:
    """URLs a random exploration of filter, facet and argument combinations found answering
    otherwise on PostgreSQL (each fixed at its mechanism)."""
    comparisons = [  # core binds a comparison's number: text columns compare with its text
        "born__lte=%2B3",
        "born__gt=99999999999999999999&price__not=no",
        "at__gt=%2B3",
        "name__gt=1e2",
        "name__lt=%2005",
        "qty__gt=1_000",
        "qty__lt=%D9%A3",
        "nope__gt=3",
        "nope__lte=3.5",
        "price__gte=-inf",
        "price__lt=-inf",
        "price__gt=-1e999",
        "price__lt=1e999",
        "yr__gt=-inf",
        "qty__lt=NaN",
        "name__gt=" + "9" * 400,
        "qty__lte=-" + "9" * 400,
    ]
    booleans = [  # SQLite reads numeric text against the stored 1/0 as a number
        "active=-0",
        "active=1.0",
        "active__not=%2B1",
        "active__in=3+%2C-0",
        "active__in=%5B1.0%2C+2%5D",
        "active__notin=0e5",
    ]
    days = [  # date() of a time of day: 2000-01-01 (by its offset)
        "at__date=2000-01-01",
        "seen__date=2024-01-02",
        "born__date=+2001-01-01",
        "_facet_date=at",
        "_facet_date=at&at__gte=12",
    ]
    arrays = [  # json_each: an object's values; a date is no JSON; filtered rows only
        "_facet_array=meta",
        "_facet_array=meta&seen__notblank=1",
        "_facet_array=born",
        "_facet_array=at&id=5",
        "_facet_array=seen&born__isnull=1&at__isnull=1",
        "_facet_array=meta&_facet_array=name&qty__glob=%C3%89va+%CE%A9",
    ]
    nul = [  # a 400 on both (dataplane/filter_values.py): no Postgres text holds one
        "name=a%00b",
        "name__contains=%00",
        "na%00me=1",
        "born__notin=%5B%22%5Cu0000%22%5D",
        "active__notin=%5B%22%5Cu0000%22%2C+%22-1%22%5D",
        "_sort=name&_next=a%00%2C1",
        "_facet=na%00me",
        "_facet_array=ta%00gs",
        "_where=1%3D1%00",
    ]
    cases = [Case("found", "{t}.json?" + q) for q in comparisons + booleans + days + arrays]
    cases += [Case("found", "{t}.json?" + q) for q in nul]
    cases += [Case("found", "{db}/-/query.json?sql=select+1%00", user_sql=True)]
    cases += [Case("found", "{t}?name=a%00b", "html"), Case("found", "{t}.csv?name=%00", "csv")]
    cases += [  # bad arguments: the same 400, in the same words, whichever is found first
        Case("found", "{t}.json?" + q)
        for q in [
            "_sort_desc=price&_next=1%2C2%2C3",
            "_sort=meta&_next=1%2C2%2C3",
            "_extra=nope&born__arraycontains=x",
            "_extra=nope&_facet=nope",
        ]
    ]
    cases += [  # core streams pages while there is a next one: none after an empty one
        Case("found", "{t}.csv?" + q, "csv")
        for q in ["_stream=on&_size=0", "_stream=on&_sort_desc=meta&_size=0"]
    ]
    return cases


CASES = [
    *filter_cases(),
    *sort_cases(),
    *size_cases(),
    *next_cases(),
    *shape_cases(),
    *column_cases(),
    *where_cases(),
    *extra_cases(),
    *row_cases(),
    *query_cases(),
    *error_cases(),
    *html_cases(),
    *facet_cases(),
    *csv_cases(),
    *canned_cases(),
    *pending_extra_cases(),
    *found_cases(),
]
