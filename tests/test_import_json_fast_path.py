"""The import's fast path for JSON arrays and NDJSON against the reference (issue 16).

Two layers, each against what the import did before:

- the readers: ``json_blocks.json_rows`` (orjson per NDJSON line without json_text's
  wrapping, JSON arrays parsed a chunk at a time) against ``readers.read_rows``: the same
  values (compared by repr: types, key order, -0.0, big integers) and the same error, after
  the same rows, for every chunking;
- the batches: ``import_fast.json_batches`` (the fast reader, column checks with Arrow
  kernels on long columns) against ``read_rows`` + ``validate_records`` per batch: the same
  rows, row numbers and report entries, over rows with numbers as strings, floats for
  integer fields, booleans, nulls, missing and extra keys, nested values and unicode.

Every case also asserts that the fast reader parsed some chunk whole, so a fast path that
always fell back could not pass. What lands in each database: test_import_stored_values.py.
"""

from __future__ import annotations

import json
import random
from itertools import islice
from typing import Any

import pytest

from datasette_dataservice.schema import column_checks, json_blocks
from datasette_dataservice.schema.readers import ReadError, read_rows
from datasette_dataservice.service import import_fast
from datasette_dataservice.service.writes import table_validator, validate_records


@pytest.fixture
def wholes(monkeypatch) -> list[int]:
    """How many elements the fast reader parsed a chunk at a time (appended per chunk)."""
    counts: list[int] = []
    original = json_blocks._whole

    def counted(buffer: str, position: int):
        parsed = original(buffer, position)
        if parsed is not None:
            counts.append(len(parsed[0]))
        return parsed

    monkeypatch.setattr(json_blocks, "_whole", counted)
    return counts


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def outcome(rows) -> tuple[list[str], str | None]:
    """The values read (as repr) and the error that ended the reading, if any."""
    values: list[str] = []
    try:
        for row in rows:
            values.append(repr(row))
    except ReadError as error:
        return values, str(error)
    return values, None


def assert_same_reading(data: bytes, fmt: str, sizes=(1, 5, 64, 1 << 20)) -> None:
    for size in sizes:
        expected = outcome(read_rows(chunked(data, size), fmt))
        got = outcome(json_blocks.json_rows(chunked(data, size), fmt))
        assert got == expected, (size, data[:200])


# -- the readers ----------------------------------------------------------------------------

VALUES = [
    "1", "-0", "-0.0", "0.1", "1e3", "1E-7", "123456789012345678", "1234567890123456789",
    "-9223372036854775809", "99999999999999999999999", "1.5e308", "1e400", "-1e400", "NaN",
    "Infinity", '"x"', '""', '"日本語 é"', '"\\u00e9\\u0000"', '"\\ud83d\\ude00"', '"\\ud800"',
    '"a\\nb"', '"}"', '"{"', '"]"', '"\\"},{"', "true", "false", "null", "[]", "{}",
    '{"a": {"b": [1, {"c": null}]}}', "[1, [2, [3]]]", '"\u2028"', '"\x1c"',
]  # fmt: skip


def random_object(rng: random.Random) -> str:
    keys = ["id", "n", "s", "b", "o", "é", "id"]  # "id" twice: a repeated key, the last wins
    parts = [f'"{key}": {rng.choice(VALUES)}' for key in rng.sample(keys, rng.randrange(0, 5))]
    return "{" + ", ".join(parts) + "}"


def random_array(rng: random.Random, count: int) -> bytes:
    items = [random_object(rng) for _ in range(count)]
    if rng.random() < 0.3:
        items[rng.randrange(count)] = rng.choice(VALUES)  # not an object: read all the same
    glue = rng.choice([",", ", ", ",\n", " ,\r\n  "])
    return ("[" + glue.join(items) + "]").encode()


@pytest.mark.parametrize("seed", range(8))
def test_random_json_arrays_read_the_same(seed, wholes):
    rng = random.Random(seed)
    for _ in range(20):
        assert_same_reading(random_array(rng, rng.randrange(1, 60)), "json", sizes=(3, 64, 500))
    assert wholes, "no chunk was parsed whole"


@pytest.mark.parametrize("seed", range(8))
def test_random_ndjson_reads_the_same(seed):
    rng = random.Random(seed)
    for _ in range(20):
        lines = [random_object(rng) for _ in range(rng.randrange(1, 60))]
        if rng.random() < 0.3:
            lines[rng.randrange(len(lines))] = rng.choice(VALUES + ["", "  ", "{", "1 2"])
        ending = rng.choice(["\n", "\r\n", "\r"])
        data = ending.join(lines).encode() + (ending.encode() if rng.random() < 0.5 else b"")
        assert_same_reading(data, "ndjson", sizes=(3, 64, 500))


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


ARRAYS = {
    "plain": b'[{"id": 1}, {"id": 2}]',
    "empty": b"[]",
    "nothing": b"",
    "blank": b"  \n",
    "BOM": b'\xef\xbb\xbf[{"id": 1}]',
    "not an array": b'{"id": 1}',
    "unfinished": b'[{"id": 1}, {"id": 2}',
    "cut in a value": b'[{"id": 1}, {"id": ',
    "two commas": b'[{"id": 1},, {"id": 2}]',
    "no comma": b'[{"id": 1} {"id": 2}]',
    "trailing comma": b'[{"id": 1}, {"id": 2},]',
    "text after the end": b'[{"id": 1}] {"x": 2}, }',
    "an array after the end": b'[{"id": 1}], [{"id": 2}, 5], 6]',
    "nested arrays of objects": b'[[{"a": 1}], {"b": [{"c": 2}]}, {"d": {}}]',
    "braces in strings": b'[{"s": "}"}, {"s": "},{"}, {"s": "\\"}"}]',
    "invalid UTF-8": b'[{"id": 1}, {"s": "\xff"}, {"id": 3}]',
    "lone surrogate": b'[{"id": 1}, {"s": "\\ud800"}, {"id": 3}]',
    "surrogate pair": b'[{"id": 1}, {"s": "\\ud83d\\ude00"}, {"id": 3}]',
    "big integer": b'[{"id": 1}, {"n": 123456789012345678901}, {"id": 3}]',
    "infinity": b'[{"id": 1}, {"n": 1e400}, {"id": 3}]',
    "NaN": b'[{"id": 1}, {"n": NaN}, {"id": 3}]',
    "500 levels": ("[" + deep(499) + "]").encode(),
    "501 levels": ("[" + deep(500) + "]").encode(),
    "1100 levels": ("[" + deep(1100) + "]").encode(),
    "many brackets, shallow": ('[{"a": [' + "[], " * 600 + "[]]}]").encode(),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_json_array_edge_cases_read_the_same(name):
    assert_same_reading(ARRAYS[name], "json")
    # the same after many clean elements, so that a chunk is parsed whole before it
    data = ARRAYS[name]
    if data.lstrip(b"\xef\xbb\xbf").startswith(b"[") and len(data) > 2:
        head = b"[" + b", ".join(b'{"id": %d}' % i for i in range(200)) + b", "
        assert_same_reading(head + data.lstrip(b"\xef\xbb\xbf")[1:], "json")


NDJSON = {
    "plain": b'{"id": 1}\n{"id": 2}\n',
    "no final newline": b'{"id": 1}\n{"id": 2}',
    "CRLF and blank lines": b'{"id": 1}\r\n\r\n  \n{"id": 2}\r\n',
    "BOM": b'\xef\xbb\xbf{"id": 1}\n',
    "a line that is not JSON": b'{"id": 1}\n{"id": \n{"id": 3}\n',
    "two values on a line": b'{"id": 1}\n{"id": 2} {"id": 3}\n',
    "a value over two lines": b'{"id":\n 1}\n',
    "line separator in a string": '{"s": "a\u2028b"}\n'.encode(),
    "invalid UTF-8": b'{"id": 1}\n{"s": "\xff"}\n',
    "lone surrogate": b'{"id": 1}\n{"s": "\\ud800"}\n',
    "big integer": b'{"id": 1}\n{"n": 123456789012345678901}\n{"n": 1}\n',
    "infinity": b'{"n": 1e400}\n',
    "500 levels": (deep(500) + "\n").encode(),
    "501 levels": (deep(501) + "\n").encode(),
    "many brackets, shallow": ('{"a": [' + "[], " * 600 + "[]]}\n").encode(),
    "scalars": b'1\n"x"\nnull\n[1]\n',
}


@pytest.mark.parametrize("name", list(NDJSON))
def test_ndjson_edge_cases_read_the_same(name):
    assert_same_reading(NDJSON[name], "ndjson")


# -- the batches: reading and validation ----------------------------------------------------

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        {"name": "active", "type": "boolean"},
        {"name": "created_at", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "meta", "type": "object"},
        {"name": "tags", "type": "array"},
    ],
    "primaryKey": ["id"],
}
DIRT = [
    None, "", "7", "7.0", 7.0, 7.5, True, False, "true", 0, -1, 2**63, 2**70, "x", "日本語",
    {"a": [1, {"b": None}]}, [1, "a"], "a@b", "ada@example.org", "2024-02-30T00:00:00Z",
    "2024-01-31T10:00:00", "2024-01-28T10:00:00+00:00", "2024-01-28T10:00:00.000000",
    "2024-02-29", "2023-02-29", "é@b.co", "a@b.co\n",
]  # fmt: skip


def random_record(rng: random.Random, i: int, dirty: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": i,
        "email": f"user.{i}@example{i % 7}.org",
        "name": f"Name é {i % 50}",
        "score": rng.choice([round(rng.uniform(0, 1000), 2), rng.randrange(1000)]),
        "active": rng.choice([True, False, None]),
        "created_at": f"2024-0{rng.randint(1, 9)}-{rng.randint(1, 31):02}T0{rng.randint(0, 9)}"
        f":00:00{rng.choice(['Z', '', '+02:00', '.123456Z'])}",
        "day": f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
        "meta": rng.choice([{}, {"k": [1, 2]}, None]),
        "tags": rng.choice([[], ["a", {"b": 1}], None]),
    }
    if rng.random() < dirty:
        row[rng.choice(list(row))] = rng.choice(DIRT)
    if rng.random() < dirty / 3:
        del row[rng.choice(list(row))]
    if rng.random() < dirty / 3:
        row["extra"] = 1
    return row


def reference_batches(data: bytes, fmt: str, batch_size: int) -> list[tuple]:
    """What the import did before: read_rows, then validate_records per batch."""
    validator = table_validator(SCHEMA)
    rows = read_rows(chunked(data, 1 << 16), fmt)
    batches: list[tuple] = []
    number = 1
    try:
        while batch := list(islice(rows, batch_size)):
            if not all(isinstance(r, dict) for r in batch):
                batches.append(("not objects", len(batch)))
                break
            result = validate_records(validator, batch, number, None)
            batches.append((repr(result.rows), result.row_numbers, repr(result.errors)))
            number += len(batch)
    except ReadError as error:
        batches.append(("ReadError", str(error)))
    return batches


def fast_batches(data: bytes, fmt: str, batch_size: int) -> list[tuple]:
    validator = table_validator(SCHEMA)
    batches: list[tuple] = []
    chunks = chunked(data, 1 << 16)
    try:
        for batch in import_fast.json_batches(chunks, fmt, validator, batch_size, list):
            if batch.failure is not None:
                batches.append(("not objects", batch.size))
                break
            batches.append((repr(list(batch.rows)), batch.row_numbers, repr(batch.errors)))
    except ReadError as error:
        batches.append(("ReadError", str(error)))
    return batches


def encode(rows: list, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False).encode()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize("seed", range(5))
def test_json_batches_agree_with_the_reference(fmt, seed, wholes, monkeypatch):
    dirty = [0, 0.001, 0.01, 0.1, 0.5][seed]
    rng = random.Random(seed)
    rows: list[Any] = [random_record(rng, i + 1, dirty) for i in range(3000)]
    if seed == 4:
        rows[1234] = rng.choice([[1], "row", None])  # not an object: the upload is refused
    data = encode(rows, fmt)
    for arrow_from in (column_checks.ARROW_FROM, 1):  # Arrow's kernels on short columns too
        monkeypatch.setattr(column_checks, "ARROW_FROM", arrow_from)
        for batch_size in (700, 1000):
            assert fast_batches(data, fmt, batch_size) == reference_batches(data, fmt, batch_size)
    if fmt == "json" and seed < 3:  # dirtier uploads have big integers in every chunk
        assert wholes, "no chunk was parsed whole"


# -- the column checks' Arrow kernels, value by value -----------------------------------------

TEXT_EDGES = [
    "a@b.co", "ada.lovelace+x@example.org", "a_b@c-d.example", "a-@b.co", "a@b-.co", "a@-b.co",
    "a@b.c", "a@b.c0", "a@b_c.co", "x" * 64 + "@b.co", "x" * 65 + "@b.co",
    "a@" + "b" * 61 + ".co", "a@" + "b" * 62 + ".co", "a@" + "b" * 63 + ".co",
    "a@b." + "c" * 62, "a@b." + "c" * 63, "a..b@c.co", ".a@b.co", "a.@b.co", "a@b@c.co",
    "é@b.co", "a@b.co\n", "\na@b.co", "a@b.co ", "A@B.CO", "1@2.c3d", "",
    "2024-01-31T10:00:00Z", "2024-01-28T10:00:00Z", "2024-02-29T10:00:00Z",
    "2023-02-29T10:00:00Z", "2024-04-31T00:00:00Z", "2024-04-30T00:00:00Z",
    "2024-11-31T00:00:00Z", "2024-12-31T00:00:00Z", "2024-02-30T00:00:00Z",
    "2024-01-29T00:00:00Z", "2024-01-28T10:00:00",
    "2024-01-28T10:00:00+00:00", "2024-01-28T10:00:00-00:00", "2024-01-28T10:00:00+01:00",
    "2024-01-28T10:00:00.000000", "2024-01-28T10:00:00.000000Z", "2024-01-28T10:00:00.123456",
    "2024-01-28T10:00:00.5", "2024-01-28 10:00:00", "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-01-28T24:00:00Z",
    "2024-01-28T23:60:00Z", "2024-01-28T10:00:00+24:00", "2024-01-28T10:00:00\n",
    "２０２４-01-28T10:00:00Z", "2024-1-28T10:00:00Z", "2024-01-28",
]  # fmt: skip
KINDS = [
    {"type": "string", "format": "email"},
    {"type": "string", "format": "email", "constraints": {"maxLength": 12}},
    {"type": "datetime"},
    {"type": "datetime", "constraints": {"required": True}},
]


@pytest.mark.parametrize("kind", KINDS, ids=json.dumps)
def test_arrow_kernels_decide_as_the_row_loop(kind, monkeypatch):
    """Columns of at least ARROW_FROM values go through Arrow's RE2 kernels first; each edge
    value, in a column the kernels read, gets the generated loop's verdict."""
    monkeypatch.setattr(column_checks, "ARROW_FROM", 1)
    schema = {"fields": [{"name": "k", "type": "integer"}, {"name": "f", **kind}]}
    validator = table_validator(schema)

    def both(rows):
        fast = validator.validate_records(rows, first_row_number=1)
        reference = validator.validate_records(rows, first_row_number=1, reference=True)
        assert repr(fast.rows) == repr(reference.rows)
        assert repr(fast.errors) == repr(reference.errors)
        return validator._records.columns.run(rows, 1) is not None

    both([{"k": 1, "f": "a@b.co"}, {"k": 2, "f": "\ud800@b.co"}])  # not UTF-8: Python's
    kept = [value for value in TEXT_EDGES if both([{"k": 1, "f": value}])]
    assert kept, "no value was kept by the column check"
    clean = [{"k": i, "f": value} for i, value in enumerate(kept)]
    assert both(clean)
    for value in [*TEXT_EDGES, None]:
        both([*clean, {"k": -1, "f": value}])
