"""The validated insert's fast paths agree with the reference, exactly.

- Column checks (schema/column_checks.py) against the generated row loop alone
  (``validate_records(reference=True)``): the same rows (the very objects), row numbers,
  errors, counts and seen keys, over the cast-case fixtures, every field type, format and
  constraint, missing values, keys, and generated random batches.
- json_text.loads (depth checked by orjson inside wrapper arrays, long digit runs found by a
  substring search) against the plain reading it replaced.
"""

from __future__ import annotations

import datetime
import json
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from datasette_dataservice.schema import json_text
from datasette_dataservice.schema.cast import UNHASHABLE_TYPES
from datasette_dataservice.schema.rows import compile_validator

V2 = "https://datapackage.org/profiles/2.0/tableschema.json"
CAST_CASES = (
    Path(__file__).resolve().parent / "fixtures/frictionless/testsuite-basic/cast_cases.json"
)


def agree(schema: dict, rows: Any, foreign=None, first: int = 1) -> bool:
    """Fast and reference results are identical; whether the column check answered."""
    try:
        validator = compile_validator(schema)
    except ValueError as e:  # options of Table Schema v2 (exclusive bounds, ...)
        assert "needs v2" in str(e), e
        validator = compile_validator({"$schema": V2, **schema})
    reference = validator.validate_records(
        rows, first_row_number=first, foreign_keys=foreign, reference=True
    )
    answered = validator._records.columns.run(rows, first) is not None
    fast = validator.validate_records(rows, first_row_number=first, foreign_keys=foreign)
    assert _same(fast.errors, reference.errors), (fast.errors[:3], reference.errors[:3])
    assert fast.row_numbers == reference.row_numbers
    assert len(fast.rows) == len(reference.rows)
    for mine, theirs in zip(fast.rows, reference.rows, strict=True):
        assert mine is theirs if answered else _same(mine, theirs)
    assert _same(fast.seen, reference.seen)
    assert fast.row_count == reference.row_count
    assert _same(fast.report(), reference.report())
    if answered:  # the loop kept every row as given; only foreign keys may refuse some
        assert {e["type"] for e in reference.errors} <= {"foreign-key"}
        kept = [rows[n - first] for n in reference.row_numbers]
        assert all(a is b for a, b in zip(reference.rows, kept, strict=True))
    return answered


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN being equal to NaN, dicts in the same order."""
    return repr(a) == repr(b)


# -- Field kinds: (descriptor, values the loop keeps as given, values it casts or refuses) --

NAN, INF = float("nan"), float("inf")
FIELDS: list[tuple[dict, list, list]] = [
    ({"type": "integer"}, [0, 1, -5, 2**63 - 1, -(2**63)], [2**63, True, 1.0, "7", "x", NAN]),
    (
        {"type": "integer", "constraints": {"minimum": 0, "maximum": 10}},
        [0, 10, 5],
        [-1, 11, "5", False],
    ),
    ({"type": "integer", "constraints": {"enum": [1, 2, 3]}}, [1, 2, 3], [4, "1", 0]),
    ({"type": "integer", "constraints": {"exclusiveMinimum": 0}}, [1, 99], [0, -1]),
    ({"type": "integer", "missingValues": ["", "NA"]}, [], [1, "NA", "", "3"]),
    ({"type": "integer", "bareNumber": False}, [1, 2], ["1$", "1"]),
    ({"type": "number"}, [0.5, 1, -2.25, 1e300, 2**63 - 1], [NAN, INF, -INF, 2**63, "1.5", True]),
    (
        {"type": "number", "constraints": {"minimum": 0, "exclusiveMaximum": 1.5}},
        [0, 0.5, 1.49],
        [-0.001, 1.5, 2],
    ),
    ({"type": "number", "constraints": {"maximum": 0.1}}, [], [0.1, 0.05, 0.1000001]),  # inexact
    ({"type": "number", "constraints": {"maximum": 0.5}}, [0.5, 0.25, -3], [0.5000001, 1]),
    ({"type": "number", "decimalChar": ","}, [1.5], ["1,5"]),
    ({"type": "number", "groupChar": " "}, [2.5], ["1 000"]),
    ({"type": "year"}, [0, 2024, 9999], [10000, -1, "2024", True]),
    ({"type": "year", "constraints": {"minimum": 2000}}, [2000, 2024], [1999]),
    ({"type": "boolean"}, [True, False], ["true", "no", 1, 0]),
    ({"type": "boolean", "trueValues": ["Y"], "falseValues": ["N"]}, [True], ["Y", "N", "true"]),
    ({"type": "boolean", "constraints": {"enum": [True]}}, [True], [False]),
    ({"type": "string"}, ["a", "é x", " "], ["", 1, True, {"a": 1}]),
    ({"type": "string", "missingValues": [""]}, ["a"], [""]),
    ({"type": "string", "missingValues": ["-", ""]}, ["a"], ["-", ""]),
    ({"type": "string", "missingValues": []}, ["", "a"], [1]),
    (
        {"type": "string", "constraints": {"minLength": 2, "maxLength": 3}},
        ["ab", "abc"],
        ["a", "abcd"],
    ),
    ({"type": "string", "constraints": {"pattern": "[a-c]+"}}, ["abc", "a"], ["abd", "A"]),
    ({"type": "string", "constraints": {"enum": ["x", "y"]}}, ["x", "y"], ["z"]),
    (
        {"type": "string", "format": "email"},
        ["a@b.org", "x.y+z@q-r.example"],
        ["a@b", "@", "x", "a" * 60 + "@" + "b" * 60 + "." + "c" * 60 + ".d" * 60 + ".org"],
    ),
    ({"type": "string", "format": "uri"}, [], ["http://x.org", "nope"]),
    ({"type": "string", "format": "uuid"}, [], ["c9b2b6a8-2a3a-4cde-9a3f-7b0ab5c0b8e1", "u"]),
    ({"type": "any"}, ["a", 1, 2.5, False], [{"a": 1}, [1], ""]),
    ({"type": "any", "missingValues": ["NA"]}, ["a"], [1, "NA"]),
    ({"type": "object"}, [{}, {"a": [1]}], ["{}", [1]]),
    ({"type": "array"}, [[], [1, "a"]], ["[]", {"a": 1}]),
    ({"type": "date"}, ["2024-01-31", "2024-02-29"], ["2023-02-29", "2024-13-01", "x", 5]),
    (
        {"type": "datetime"},
        ["2024-01-31T10:00:00Z", "2024-02-29T23:59:59+01:00", "2024-03-01T00:00:00.123456"],
        ["2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01 10:00:00", "2024-01-01"],
    ),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M"}, [], ["01/02/2024 10:00"]),
    ({"type": "date", "format": "%d/%m/%Y"}, [], ["01/02/2024"]),
    ({"type": "time"}, [], ["10:00:00", "25:00:00"]),
    ({"type": "yearmonth"}, [], ["2024-01", "2024-13"]),
    ({"type": "duration"}, [], ["P1D", "1D"]),
    ({"type": "geopoint"}, [], ["10,20", "x"]),
    ({"type": "geojson"}, [], [{"type": "Point", "coordinates": [1, 2]}, {}]),
    ({"type": "list"}, [], ["a,b"]),
]


def field_cases() -> list:
    return [
        pytest.param(f, good, bad, id=f"{n}:{json.dumps(f)}")
        for n, (f, good, bad) in enumerate(FIELDS)
    ]


def _fields(kind: dict, name: str = "f", **extra) -> dict:
    return {"name": name, **kind, **extra}


@pytest.mark.parametrize("kind, good, bad", field_cases())
def test_each_field_kind_agrees(kind: dict, good: list, bad: list) -> None:
    """Every value alone, in a clean column, and mixed in; required, unique and nulls."""
    for required in (False, True):
        for unique in (False, True):
            constraints = {**kind.get("constraints", {})}
            constraints.update({"required": True} if required else {})
            constraints.update({"unique": True} if unique else {})
            field = _fields({**kind, "constraints": constraints})
            schema = {"fields": [{"name": "k", "type": "integer"}, field], "primaryKey": ["k"]}
            for value in [*good, *bad, None]:
                agree(schema, [{"k": 1, "f": value}])
            if good:
                rows = [{"k": i, "f": good[i % len(good)]} for i in range(len(good))]
                answered = agree(schema, rows)
                keyed_json = unique and kind["type"] in UNHASHABLE_TYPES  # keyed by JSON text
                assert answered != keyed_json, "a clean column takes the fast path"
                agree(schema, [*rows, {"k": 99, "f": None}])
                agree(schema, [*rows, {"k": 98}])
                for value in bad:
                    agree(schema, [*rows, {"k": 97, "f": value}])
                    agree(schema, [{"k": 97, "f": value}, *rows])


def test_cast_cases_agree() -> None:
    """The frictionless cast-case fixtures: each input alone and in a column of its field."""
    cases = json.loads(CAST_CASES.read_text(encoding="utf-8"))["cases"]
    by_field: dict[str, list] = {}
    for case in cases:
        field = {**case["field"], "name": "f"}
        schema = {"fields": [{"name": "k", "type": "integer"}, field]}
        agree(schema, [{"k": 1, "f": case["input"]}])
        by_field.setdefault(json.dumps(field, sort_keys=True), []).append(case["input"])
    for text, inputs in by_field.items():
        schema = {"fields": [{"name": "k", "type": "integer"}, json.loads(text)]}
        agree(schema, [{"k": i, "f": value} for i, value in enumerate(inputs)])


def test_row_shapes_agree() -> None:
    schema = {
        "fields": [
            {"name": "a", "type": "integer"},
            {"name": "b", "type": "string"},
            {"name": "c", "type": "boolean", "constraints": {"required": True}},
        ]
    }
    good = [{"a": i, "b": str(i), "c": True} for i in range(5)]
    assert agree(schema, good)
    assert agree(schema, [{"c": False, "b": "x", "a": 1}])  # key order is free
    for odd in (
        [],
        [*good, {"a": 1, "b": "x"}],  # a missing required field
        [*good, {"a": 1, "b": "x", "c": True, "d": 1}],  # an extra key
        [*good, {"a": 1, "c": True, "d": 1}],  # as many keys, one not a field
        [*good, {"a": None, "b": None, "c": None}],
        [*good, "row"],
        [*good, [1, "x", True]],
        [{"a": None, "b": None, "c": True}],
    ):
        agree(schema, odd)
    validator = compile_validator(schema)  # rows that are not a list: the loop alone
    assert validator._records.columns.run(iter(good), 1) is None
    assert validator.validate_records(iter(good)).rows == good
    optional = {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]}
    agree(optional, [{"a": None, "b": "x"}, {"a": 1, "b": None}])
    agree(optional, [{"a": None, "b": None}, {"a": 1, "b": None}])  # a blank row
    agree(optional, [{"a": 1, "b": "x"}], first=5)


def test_keys_agree() -> None:
    schema = {
        "fields": [
            {"name": "a", "type": "integer"},
            {"name": "b", "type": "string"},
            {"name": "u", "type": "integer", "constraints": {"unique": True}},
            {"name": "parent", "type": "integer"},
            {"name": "o", "type": "object"},
        ],
        "primaryKey": ["a", "b"],
        "uniqueKeys": [["b", "u"], ["u"]],
        "foreignKeys": [
            {"fields": ["parent"], "reference": {"resource": "", "fields": ["u"]}},
            {"fields": ["u"], "reference": {"resource": "other", "fields": ["id"]}},
        ],
    }
    rows = [{"a": i, "b": "x", "u": i, "parent": i - 1 or None, "o": {}} for i in range(1, 6)]
    outside = {(i,) for i in range(1, 5)}

    def lookup(resource, fields):
        return outside if resource == "other" else {(100,)}

    assert agree(schema, rows, lookup)  # the foreign key to "other" refuses row 5
    assert agree(schema, rows[:4], lookup)
    agree(schema, rows, None)
    for change in ({"a": 1}, {"u": 1}, {"b": None}, {"u": None}, {"parent": 42}, {"parent": 100}):
        agree(schema, [*rows[:3], {**rows[3], **change}], lookup)
    keyed_object = {"fields": [{"name": "o", "type": "object", "constraints": {"unique": True}}]}
    assert not agree(keyed_object, [{"o": {}}, {"o": {"a": 1}}])  # left to the loop
    single = {"fields": [{"name": "id", "type": "integer"}], "primaryKey": "id"}
    assert not agree(single, [{"id": 1}, {"id": None}])
    assert not agree(single, [{"id": 1}, {"id": 1}])
    assert not agree(single, [{"id": True}, {"id": 1}])


RANDOM_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "name", "type": "string", "constraints": {"required": True, "maxLength": 8}},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        {"name": "active", "type": "boolean"},
        {"name": "created", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "tag", "type": "string", "constraints": {"enum": ["a", "b"], "unique": True}},
        {"name": "any", "type": "any"},
        {"name": "year", "type": "year"},
    ],
    "primaryKey": ["id"],
}
GOOD = {
    "email": ["a@b.org", "ada.l@math.example"],
    "name": ["Ada", "x"],
    "score": [0, 1.5, 1000],
    "active": [True, False],
    "created": ["2024-01-31T10:00:00Z", "2024-02-29T00:00:00+02:00", "2024-06-30T10:00:00"],
    "day": ["2024-01-01", "2024-02-29"],
    "any": ["a", 1, 2.5, False],
    "year": [1999, 2024],
}
BAD = [None, "", "x", 0, -1, 1.5, NAN, INF, True, 2**64, "2023-02-29", "2024-02-30T00:00:00Z",
       "1", {"a": 1}, [1], "toolongname", "a@", "2024-01-01T00:00:00"]  # fmt: skip


def random_row(rng: random.Random, i: int, dirt: float) -> Any:
    row: dict[str, Any] = {"id": i}
    for name, values in GOOD.items():
        row[name] = rng.choice(values)
    row["tag"] = None
    for name in list(row):
        if rng.random() < dirt:
            row[name] = rng.choice(BAD)
        if rng.random() < dirt / 3:
            del row[name]
    if rng.random() < dirt / 3:
        row["extra"] = 1
    if rng.random() < dirt / 5:
        return rng.choice(["x", [1], None])
    return row


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_agree(seed: int) -> None:
    rng = random.Random(seed)
    answered = 0
    for _ in range(150):
        dirt = rng.choice([0, 0, 0.002, 0.02, 0.2])
        rows = [random_row(rng, rng.randrange(1, 400), dirt) for _ in range(rng.randrange(1, 40))]
        if rng.random() < 0.5:  # distinct ids, as most batches have
            for n, row in enumerate(rows):
                if isinstance(row, dict) and "id" in row and type(row["id"]) is int:
                    row["id"] = n
        answered += agree(RANDOM_SCHEMA, rows)
    assert answered >= 30, answered


# -- json_text.loads ---------------------------------------------------------------------


def reference_loads(text: str | bytes) -> Any:
    """json_text.loads as it was: orjson, json for 19-digit runs, then a depth walk."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if "depth limit" in str(e):
            raise json_text.TooDeep("too deep") from None
        raise ValueError(str(e)) from None
    if re.search(r"[0-9]{19}", text if isinstance(text, str) else text.decode("latin-1")):
        data = json.loads(text)
    json_text.check_depth(data)
    return data


def _outcome(loads, text) -> tuple:
    try:
        return ("ok", json.dumps(loads(text), default=repr))
    except json_text.TooDeep:
        return ("too deep",)
    except ValueError as e:
        return ("error", str(e))


def test_json_text_agrees_with_the_plain_reading() -> None:
    texts = [
        b"", b" ", b"1],[2", b"1,2", b"[1]", b'  {"a":1}  ', b"\xef\xbb\xbf{}", b"nul", b"1 2",
        b"99999999999999999999999", b"-9223372036854775809", b"18446744073709551615",
        b'"1234567890123456789"', b'["\\ud800"]', b"NaN", b"[1,]", b"]", b"[1]]", b"[[1]",
        b"[" * 600, b"\xff", b'{"a": 1e400}',
    ]  # fmt: skip
    for depth in (499, 500, 501, 1024, 1025):
        texts.append(b"[" * depth + b"]" * depth)
        texts.append(b'{"a":' * depth + b"[12345678901234567890]" + b"}" * depth)
    rng = random.Random(1)
    pieces = [b"[", b"]", b"{", b"}", b",", b":", b'"a"', b"1", b" ", b"12345678901234567890"]
    texts += [b"".join(rng.choice(pieces) for _ in range(rng.randrange(12))) for _ in range(3000)]
    for text in texts:
        for given in (text, text.decode("utf-8", "replace")):
            assert _outcome(json_text.loads, given) == _outcome(reference_loads, given), given


def test_json_text_depth_limit_and_exact_integers() -> None:
    assert json_text.loads(b"[" * 500 + b"]" * 500) is not None
    with pytest.raises(json_text.TooDeep):
        json_text.loads(b"[" * 501 + b"]" * 501)
    with pytest.raises(json_text.TooDeep):
        json_text.loads(b'{"a":' * 501 + b"0" + b"}" * 501)
    assert json_text.loads(b'{"n": 2361183241434822606848}') == {"n": 2**71}
    assert json_text.loads(b"[1.5, 2]") == [1.5, 2]
    with pytest.raises(ValueError, match="infinity"):
        json_text.loads(b"1e400")
    day = str(datetime.date(2024, 1, 1))
    body = json.dumps({"rows": [{"id": i, "d": day} for i in range(600)]})
    assert json_text.loads(body.encode()) == json.loads(body)
