"""JSON uploads read fast, exactly as the reference readers (:func:`.readers.read_rows`) read
them: the same values, the same errors at the same element or line.

The reference decodes an NDJSON line with :func:`.json_text.loads`, which parses the text
inside 524 arrays so that orjson checks the depth, then unwraps them in Python: ~80 us a
line. A line with at most ``MAX_DEPTH`` brackets cannot nest deeper than that, so orjson
alone gives the same value or the same error (json_text's own error is orjson's on the
text alone). Lines with more brackets, or with a run of 19 digits (json_text re-reads those
with json, which keeps big integers exact), still go through json_text.

The reference reads a JSON array element by element with json's ``raw_decode``. Here each
decoded chunk is first tried whole: the elements up to a closing brace, wrapped as
json_text wraps a text (the depth limit is orjson's, per element, as there), parsed by
orjson in one call. That only succeeds where every element is valid JSON separated by
single commas, and then orjson's values are json's (numbers: both round correctly; an
infinity is an error to orjson, so such a chunk falls back; escapes read as json_text reads
them, which is orjson). A chunk with a 19-digit run (big integers: the reference's json keeps
them exact), or that orjson refuses, is read element by element by the reference's own loop.

>>> list(json_rows([b'[{"id": 1}, {"id"', b': 2}]'], "json"))
[{'id': 1}, {'id': 2}]
>>> list(json_rows([b'{"id": 1}\\n\\n{"id": 2}\\n'], "ndjson"))
[{'id': 1}, {'id': 2}]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import orjson

from . import json_text, readers
from .json_text import LONG_DIGITS, MAX_DEPTH, NINETEEN_ZEROS, WRAP, ZEROED
from .readers import ReadError, _text

#: closing braces tried as the end of a chunk's whole elements before reading one by one
TRIES = 4


def json_rows(chunks: Iterable[bytes], format: str) -> Iterator[Any]:
    """The rows of a ``json`` or ``ndjson`` upload: read_rows' rows and errors, faster."""
    if format == "ndjson":
        return _ndjson(chunks)
    if format == "json":
        return _json_array(chunks)
    raise ReadError(f"not a JSON format: {format!r}")


def _line_value(line: str, long_digits: bool) -> Any:
    """json_text.loads(line), without its wrapping where the line cannot nest too deeply."""
    if line.count("[") + line.count("{") > MAX_DEPTH or (long_digits and LONG_DIGITS.search(line)):
        return json_text.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as e:  # json_text's own error: orjson's on the text alone
        raise ValueError(str(e)) from None


def _ndjson(chunks: Iterable[bytes]) -> Iterator[Any]:
    """readers._ndjson: lines cut as readers._lines cuts them, each read by _line_value."""
    number, pending = 0, ""
    for text in chain(_text(chunks), [None]):
        if text is None:
            lines, pending = [pending] if pending else [], ""
        else:
            *lines, pending = (pending + text).splitlines(keepends=True)
        # a 19-digit run in any line of the block: those lines are read by json_text
        long_digits = NINETEEN_ZEROS in "".join(lines).encode().translate(ZEROED)
        if lines and not long_digits and all(map(str.strip, lines)):
            # no blank line, none long enough to hold MAX_DEPTH brackets: one C-level map
            if max(map(len, lines)) <= MAX_DEPTH:
                try:
                    values = list(map(orjson.loads, lines))
                except orjson.JSONDecodeError:
                    pass  # the loop below finds the line and says what is wrong
                else:
                    number += len(lines)
                    yield from values
                    continue
        for line in lines:
            number += 1
            if line.strip():
                try:
                    value = _line_value(line, long_digits)
                except ValueError as e:
                    raise ReadError(f"line {number} is not JSON: {e}") from e
                yield value


def _whole(buffer: str, position: int) -> tuple[list[Any], int] | None:
    """The elements of ``buffer`` from ``position`` up to a closing brace, parsed at once,
    and where they end; None where the reference's loop must read them."""
    end = len(buffer)
    for _ in range(TRIES):
        end = buffer.rfind("}", position, end)
        if end < 0:
            return None
        text = buffer[position : end + 1].encode()
        if NINETEEN_ZEROS in text.translate(ZEROED):
            return None
        try:
            data = orjson.loads(b"[" * WRAP + text + b"]" * WRAP)
        except orjson.JSONDecodeError:
            continue
        for _ in range(WRAP - 1):  # each wrapper holds the one value it was given
            if type(data) is not list or len(data) != 1:
                return None
            data = data[0]
        return data, end + 1
    return None


def _json_array(chunks: Iterable[bytes]) -> Iterator[Any]:
    """readers._json_array, each chunk first tried whole (see the module's docstring)."""
    return readers._json_array(chunks, whole=_whole)
