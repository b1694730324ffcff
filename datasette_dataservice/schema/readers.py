"""Streaming readers for imports: CSV, TSV, a JSON array, newline-delimited JSON.

Each reader takes an iterator of byte chunks and yields rows one at a time, so memory stays
flat however large the upload: CSV/TSV rows as lists of strings (the first is the header),
JSON rows as objects.

>>> list(read_rows([b"id,name\\n1,Ada\\n2,", b"Alan\\n"], "csv"))
[['id', 'name'], ['1', 'Ada'], ['2', 'Alan']]
>>> list(read_rows([b'[{"id": 1}, ', b'{"id": 2}]'], "json"))
[{'id': 1}, {'id': 2}]
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import json_text

WholeChunk = Callable[[str, int], "tuple[list[Any], int] | None"]

FORMATS = ("csv", "tsv", "json", "ndjson")
CONTENT_TYPES = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
}


class ReadError(ValueError):
    """The upload is not in the format it claims; the message says where."""


def _not_json(name: str) -> Any:
    raise ReadError(f"{name} is not valid JSON: JSON has no such number")


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _text(chunks: Iterable[bytes], encoding: str = "utf-8-sig") -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for chunk in chunks:
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise ReadError(f"the upload is not UTF-8 text: {e}") from e
    if tail:
        yield tail


def _lines(chunks: Iterable[bytes], encoding: str = "utf-8-sig") -> Iterator[str]:
    pending = ""
    for text in _text(chunks, encoding):
        pending += text
        *complete, pending = pending.splitlines(keepends=True)
        yield from complete
    if pending:
        yield pending


def _json_array(chunks: Iterable[bytes], whole: WholeChunk | None = None) -> Iterator[Any]:
    """Each element as json_text reads JSON: json's raw_decode finds where it ends (so the
    array streams); an element with a surrogate escape, or with brackets enough to nest too
    deeply, is read again by json_text.loads, whose checks json's decoder lacks.

    ``whole(buffer, position)``, when given, is first asked for each chunk's elements at
    once: ``(elements, end)``, or None to read them one by one (schema.json_blocks)."""
    decoder = json.JSONDecoder(parse_constant=_not_json)
    buffer, position, started, count = "", 0, False, 0
    for text in _text(chunks):
        buffer = buffer[position:] + text
        position = 0
        untried = whole is not None
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if position >= len(buffer):
                break
            if not started:
                if buffer[position] != "[":
                    raise ReadError("a JSON upload must be an array of objects")
                started, position = True, position + 1
                continue
            if buffer[position] == "]":
                return
            if untried:
                untried = False
                parsed = whole(buffer, position)
                if parsed is not None:
                    count += len(parsed[0])
                    yield from parsed[0]
                    position = parsed[1]
                    continue
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                break  # the value continues in the next chunk
            except RecursionError:
                raise ReadError(
                    f"element {count + 1} of the JSON array nests more than "
                    f"{json_text.MAX_DEPTH} levels deep"
                ) from None
            count += 1
            brackets = buffer.count("[", position, end) + buffer.count("{", position, end)
            if brackets > json_text.MAX_DEPTH or SURROGATE_ESCAPE.search(buffer, position, end):
                try:
                    value = json_text.loads(buffer[position:end])
                except ValueError as e:
                    raise ReadError(f"element {count} of the JSON array: {e}") from None
            yield value
            position = end
    if buffer[position:].strip():
        raise ReadError("the JSON array is not complete")
    if not started:
        raise ReadError("a JSON upload must be an array of objects")


def _ndjson(chunks: Iterable[bytes]) -> Iterator[Any]:
    for number, line in enumerate(_lines(chunks), start=1):
        if line.strip():
            try:
                value = json_text.loads(line)
            except ValueError as e:
                raise ReadError(f"line {number} is not JSON: {e}") from e
            yield value


def read_rows(chunks: Iterable[bytes], format: str, bom: bool = True) -> Iterator[Any]:
    """Rows of an upload in ``format`` (csv, tsv, json or ndjson). ``bom=False``: the
    chunks continue an upload, so a leading U+FEFF is a character, not a byte order mark."""
    if format in ("csv", "tsv"):
        lines = _lines(chunks, "utf-8-sig" if bom else "utf-8")
        try:
            yield from csv.reader(lines, delimiter="\t" if format == "tsv" else ",")
        except csv.Error as e:
            raise ReadError(f"not valid {format.upper()}: {e}") from e
    elif format == "json":
        yield from _json_array(chunks)
    elif format == "ndjson":
        yield from _ndjson(chunks)
    else:
        raise ReadError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
