"""The import's columnar fast path against the reference row validator: same rows accepted,
as the same values, the same rows refused, with the same report entries (issue 16).

Each upload is read twice, batch by batch: by the reference (``read_rows`` + the row
validator's ``validate_table``) and by ``tabular_batches`` (Arrow blocks, the columnar
checks, the reference for any batch with something to report). Blocks are made tiny so
uploads are cut in many places, and small batches let clean batches take the fast path
beside refused ones; every case also asserts that the fast path did take some batches,
so a fast path that always deferred could not pass.
"""

from __future__ import annotations

import csv
import io
import json
import random
from itertools import islice
from pathlib import Path

import pytest

from datasette_dataservice.schema import csv_blocks
from datasette_dataservice.schema.columnar import ColumnarRows
from datasette_dataservice.schema.readers import ReadError, read_rows
from datasette_dataservice.service.import_fast import tabular_batches
from datasette_dataservice.service.writes import table_validator

CAST_CASES = (
    Path(__file__).parent / "fixtures" / "frictionless" / "testsuite-basic" / "cast_cases.json"
)


V2 = "https://datapackage.org/profiles/2.0/tableschema.json"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(csv_blocks, "BLOCK_BYTES", 64)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def reference(schema: dict, data: bytes, batch_size: int, fmt: str = "csv"):
    """What the import did before the fast path: header, then validate_table per batch as
    rows are read; a read error ends the list (after the batches read before it)."""
    validator = table_validator(schema)
    rows = read_rows(chunked(data, 5), fmt)
    batches, number = [], 2
    try:
        header = next(rows, None)
        if header is None:
            return ("empty",)
        if validator.validate_table(header, []).errors:
            return ("header", validator.validate_table(header, []).errors)
        while part := list(islice(rows, batch_size)):
            result = validator.validate_table(header, part, first_row_number=number)
            batches.append((result.rows, result.row_numbers, result.errors))
            number += len(part)
    except ReadError as error:
        batches.append(("ReadError", str(error).split(":")[0]))
    return batches


def fast(schema: dict, data: bytes, batch_size: int, fmt: str = "csv", chunk: int = 7):
    """The same through tabular_batches; also how many batches the fast path took."""
    validator = table_validator(schema)
    header_errors = []

    def check(header):
        if header is None:
            raise LookupError("empty")
        header_errors.extend(validator.validate_table(header, []).errors)
        if header_errors:
            raise LookupError("header")

    batches, taken = [], 0
    try:
        for batch in tabular_batches(chunked(data, chunk), fmt, validator, batch_size, check):
            taken += isinstance(batch.rows, ColumnarRows)
            batches.append((list(batch.rows), list(batch.row_numbers), batch.errors))
    except ReadError as error:
        batches.append(("ReadError", str(error).split(":")[0]))
    except LookupError as why:
        return (("empty",) if str(why) == "empty" else ("header", header_errors)), 0
    return batches, taken


def assert_same(schema, data, batch_size=3, fmt="csv", fast_batches=True):
    expected = reference(schema, data, batch_size, fmt)
    for chunk in (7, 1 << 20):
        got, taken = fast(schema, data, batch_size, fmt, chunk)
        assert got == expected, (chunk, data[:300])
        if fast_batches:
            assert taken, "the fast path took no batch"


def to_csv(rows: list[list[str]], **options) -> bytes:
    out = io.StringIO()
    csv.writer(out, **options).writerows(rows)
    return out.getvalue().encode()


# -- every type, format and constraint, against random rows --------------------------------

POOL = [
    "", "0", "-0", "7", "007", "-12", "+5", " 5", "5 ", "1e3", "1.5", "-1.25", "0.1", "3.14",
    "123456789012345678", "1234567890123456789", "99999999999999999999", "1,000", "1,000.5",
    "1000.5", "€10", "10%", "NaN", "inf", "-inf", "0.000000000000001", "12345678901234.5",
    "2000", "0000", "99999", "true", "false", "True", "FALSE", "yes", "no", "1.0", "t", "f",
    "2024-01-31", "2024-02-29", "2023-02-29", "2024-13-01", "0000-01-01", "0001-01-01",
    "9999-12-31", "2024-1-5", "31/01/2024", "2024-01-31T10:00:00Z", "2024-01-31T10:00:00",
    "2024-01-30T10:00:00+00:00", "2024-01-30T10:00:00-00:00", "2024-01-29T23:59:59.000000",
    "2024-01-29T23:59:59.123456", "2024-01-28T23:59:59.000000", "2024-01-28T10:00:00+00:00",
    "2024-01-28T10:00:00-00:00", "2024-01-28T10:00:00.5", "1000.500000000000001",
    "2024-01-29 23:59:59", "2024-02-30T00:00:00Z", "2024-04-30", "2024-04-31", "2024-12-31",
    "2024-04-30T10:00:00Z", "2024-06-31T10:00:00Z", "2024-12-31T23:59:59+01:00",
    "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "2024-01-31T24:00:00Z", "10:00:00",
    "10:00", "2024-01", "P1Y2M", "PT5S", "90,45", "[90, 45]", '{"lon": 1, "lat": 2}',
    "a@b.co", "ada.lovelace+x@example.org", "a-@b.co", "a@b-.co", "a@-b.co", "a@b.c",
    "a@b.c0", "x" * 65 + "@b.co", "a@" + "b" * 63 + ".co", "a..b@c.co", ".a@b.co",
    "a@b@c.co", "ab", "abc", "abcd", "ABC", "日本語", "é", "a\nb", 'say "hi"', "a,b", " ",
    "NA", "-", "null", "http://example.com", "dGVzdA==", "ok", "x" * 40,
]  # fmt: skip

FIELDS = [
    {"type": "integer"},
    {"type": "integer", "constraints": {"minimum": 0, "maximum": 100}},
    {"type": "integer", "constraints": {"exclusiveMinimum": -13, "enum": [0, 7, -12, 2000]}},
    {"type": "integer", "constraints": {"required": True, "unique": True}},
    {"type": "integer", "bareNumber": False},
    {"type": "number"},
    {"type": "number", "constraints": {"minimum": 0}},
    {"type": "number", "constraints": {"maximum": 1000.5, "exclusiveMinimum": -1.25}},
    {"type": "number", "constraints": {"minimum": 0.1234567890123456789}},
    {"type": "number", "constraints": {"unique": True}},
    {"type": "number", "decimalChar": ","},
    {"type": "number", "groupChar": ","},
    {"type": "number", "bareNumber": False},
    {"type": "year"},
    {"type": "year", "constraints": {"minimum": 1999}},
    {"type": "boolean"},
    {"type": "boolean", "trueValues": ["yes", "t"], "falseValues": ["no", "f"]},
    {"type": "boolean", "constraints": {"enum": [True]}},
    {"type": "string"},
    {"type": "string", "constraints": {"minLength": 2, "maxLength": 3}},
    {"type": "string", "constraints": {"enum": ["ab", "abc", "日本語", ""]}},
    {"type": "string", "constraints": {"pattern": "[a-z]+"}},
    {"type": "string", "constraints": {"required": True}},
    {"type": "string", "constraints": {"unique": True}},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "email", "constraints": {"maxLength": 10}},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "binary"},
    {"type": "string", "missingValues": ["NA", "-"]},
    {"type": "string", "missingValues": []},
    {"type": "integer", "missingValues": ["", "NA"]},
    {"type": "date"},
    {"type": "date", "format": "%d/%m/%Y"},
    {"type": "date", "constraints": {"minimum": "2024-01-01"}},
    {"type": "datetime"},
    {"type": "datetime", "constraints": {"required": True}},
    {"type": "datetime", "format": "any"},
    {"type": "time"},
    {"type": "yearmonth"},
    {"type": "duration"},
    {"type": "geopoint"},
    {"type": "geopoint", "format": "array"},
    {"type": "any"},
    {"type": "object"},
    {"type": "array"},
    {"type": "list"},
]


def column(cells: list[str]) -> list[list[str]]:
    return [["v"]] + [[cell] for cell in cells]


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: json.dumps(f, sort_keys=True))
def test_every_field_kind_agrees_with_the_reference(field):
    schema = {"$schema": V2, "fields": [{"name": "v", **field}]}
    rng = random.Random(json.dumps(field))
    # one cell a row: each POOL value once, batched by one, so each row is its own verdict
    takes = field["type"] not in ("object", "array", "list")  # dicts, lists: the row path
    assert_same(schema, to_csv(column(POOL)), batch_size=1, fast_batches=takes)
    # and random rows in larger batches, mostly of values the field takes
    valid = [
        cell
        for cell in POOL
        if reference(schema, to_csv(column([cell])), 1)[0][2] == []
        and (cell or not field.get("constraints", {}).get("unique"))
    ]
    cells = [rng.choice(valid or POOL) for _ in range(120)]
    cells += [rng.choice(POOL) for _ in range(10)]
    unique = field.get("constraints", {}).get("unique")  # repeats in every batch: refused
    assert_same(
        schema,
        to_csv(column(cells)),
        batch_size=13,
        fast_batches=takes and bool(valid) and not unique,
    )


def cast_case_fields():
    cases = json.loads(CAST_CASES.read_text())["cases"]
    by_field: dict[str, list[str]] = {}
    for case in cases:
        if isinstance(case["input"], str):
            by_field.setdefault(json.dumps(case["field"], sort_keys=True), []).append(case["input"])
    return sorted(by_field.items())


@pytest.mark.parametrize("field, inputs", cast_case_fields(), ids=lambda x: str(x)[:60])
def test_cast_cases_agree_with_the_reference(field, inputs):
    schema = {"fields": [json.loads(field)]}
    header = [schema["fields"][0]["name"]]
    data = to_csv([header] + [[cell] for cell in inputs])
    expected = reference(schema, data, 1)
    got, _ = fast(schema, data, 1)
    assert got == expected


# -- several columns, keys and random rows ---------------------------------------------------

TABLE = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        {"name": "active", "type": "boolean"},
        {"name": "created_at", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "code", "type": "string", "constraints": {"unique": True}},
    ],
    "primaryKey": ["id"],
    "uniqueKeys": [["name", "day"]],
}


def random_rows(rng: random.Random, count: int, dirty: float) -> list[list[str]]:
    rows = []
    for i in range(count):
        row = [
            str(i + 1),
            f"user{i}@example{i % 7}.org",
            f"Name {i % 50}",
            f"{rng.uniform(0, 1000):.2f}",
            rng.choice(["true", "false", ""]),
            f"2024-0{rng.choice([1, 3, 5, 7, 8])}-{rng.randint(1, 31):02}"
            f"T0{rng.randint(0, 9)}:00:00Z",
            f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
            rng.choice(["", f"c{i}"]),
        ]
        if rng.random() < dirty:
            row[rng.randrange(len(row))] = rng.choice(POOL)
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_random_rows_agree_with_the_reference(seed):
    rng = random.Random(seed)
    header = [f["name"] for f in TABLE["fields"]]
    rows = random_rows(rng, 300, dirty=[0, 0.005, 0.02, 0.1, 0.3, 1][seed])
    assert_same(TABLE, to_csv([header] + rows), batch_size=25, fast_batches=seed < 3)
    # the header in another order (columns matched by name), with an optional one missing
    order = [7, 0, 2, 1, 4, 3, 5]
    shuffled = [[row[i] for i in order] for row in [header] + rows]
    assert_same(TABLE, to_csv(shuffled), batch_size=25, fast_batches=seed < 3)


def test_repeated_keys_are_reported_by_the_reference():
    header = [f["name"] for f in TABLE["fields"]]
    rows = random_rows(random.Random(9), 40, dirty=0)
    rows[5][0] = rows[3][0]  # primary key
    rows[20][7] = rows[21][7] = "same"  # unique
    rows[30][2], rows[30][6], rows[31][2], rows[31][6] = "n", "2024-01-10", "n", "2024-01-10"
    rows[35][3], rows[36][3] = "0.0", "-0.0"  # not unique: fine
    assert_same(TABLE, to_csv([header] + rows), batch_size=10)


def test_missing_required_values_are_reported_by_the_reference():
    header = [f["name"] for f in TABLE["fields"]]
    rows = random_rows(random.Random(5), 40, dirty=0)
    rows[4][2] = ""  # name is required
    rows[33][0] = ""  # id is the primary key
    assert_same(TABLE, to_csv([header] + rows), batch_size=10)


# -- CSV edge cases ---------------------------------------------------------------------------

SMALL = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "text", "type": "string"},
        {"name": "n", "type": "number"},
    ]
}
GOOD = [["1", "a", "1.5"], ["2", "b", "2"], ["3", "c", "0"], ["4", "d", "4"]]


def edge_cases() -> dict[str, bytes]:
    plain = to_csv([["id", "text", "n"]] + GOOD)
    wide = [["id", "text", "n"]] + [[str(i), "w" * (i % 200), str(i)] for i in range(1, 60)]
    return {
        "plain": plain,
        "bom": b"\xef\xbb\xbf" + plain,
        "crlf": plain.replace(b"\n", b"\r\n"),
        "no final newline": plain.rstrip(b"\n"),
        "quotes": to_csv([["id", "text", "n"], ["1", 'say "hi", then', "1"], ["2", '""', "2"]]),
        "all quoted": to_csv([["id", "text", "n"]] + GOOD, quoting=csv.QUOTE_ALL),
        "embedded newlines": to_csv([["id", "text", "n"], ["1", "a\nb", "1"], ["2", "c\r\nd", "2"]])
        + to_csv(GOOD[2:]),
        "empty vs quoted empty": b'id,text,n\n1,,1\n2,"",2\n3,"",\n4,x,""\n',
        "blank line": plain + b"\n" + to_csv(GOOD),
        "blank line crlf": plain.replace(b"\n", b"\r\n") + b"\r\n" + to_csv(GOOD),
        "extra cells": plain + b"5,e,5,extra\n" + to_csv(GOOD),
        "missing cells": plain + b"5,e\n6\n" + to_csv(GOOD),
        "wide rows": to_csv(wide),
        "a quote mid-field": plain + b'5,a"b,5\n' + to_csv(GOOD),
        "unbalanced quote": plain + b'5,"ab,5\n6,c,6\n',
        "bare CR": plain + b"5,a\rb,5\n" + to_csv(GOOD),
        "unicode line separator": plain + "5,a\u2028b,5\n".encode() + to_csv(GOOD),
        "NEL": plain + "5,a\x85b,5\n".encode() + to_csv(GOOD),
        "NUL": plain + b"5,a\x00b,5\n",
        "BOM inside": plain + b"\xef\xbb\xbf5,x,5\n" + to_csv(GOOD),
        "invalid UTF-8": plain + b"5,\xff,5\n" + to_csv(GOOD),
        "invalid UTF-8 after a refused row": plain.replace(b"2,b", b"x,b") + b"5,\xff,5\n",
        "a field past the csv module's limit": plain + b"5," + b"x" * 131073 + b",5\n",
        "header only": b"id,text,n\n",
        "header only, no newline": b"id,text,n",
        "empty": b"",
        "only a BOM": b"\xef\xbb\xbf",
        "blank first line": b"\n" + plain,
        "wrong header": plain.replace(b"text", b"txet"),
        "quoted header": plain.replace(b"id,text,n", b'"id","text","n"'),
        "multibyte": to_csv(
            [["id", "text", "n"]] + [[str(i), "日本語é" * i, "1"] for i in range(40)]
        ),
    }


@pytest.mark.parametrize("name", list(edge_cases()))
def test_csv_edge_cases_agree_with_the_reference(name):
    data = edge_cases()[name]
    expected = reference(SMALL, data, 2)
    for chunk in (1, 3, 7, 64, 1 << 20):
        got, _ = fast(SMALL, data, 2, chunk=chunk)
        assert got == expected, chunk


def test_tsv_agrees_with_the_reference():
    rows = [["id", "text", "n"]] + GOOD + [["5", "a,b", "5"], ["6", 'q"t', "6"]]
    data = to_csv(rows, delimiter="\t")
    assert_same(SMALL, data, batch_size=2, fmt="tsv")


def test_large_blocks_keep_batches_aligned(monkeypatch):
    """Blocks of many batches (the real size) give the reference's batch boundaries."""
    monkeypatch.setattr(csv_blocks, "BLOCK_BYTES", 4 << 20)
    header = [f["name"] for f in TABLE["fields"]]
    rows = random_rows(random.Random(3), 2_000, dirty=0.002)
    assert_same(TABLE, to_csv([header] + rows), batch_size=333)
