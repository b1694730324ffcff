"""A CSV upload as Arrow tables of text cells, read block by block, exactly as the reference
reader (:func:`.readers.read_rows`, Python's csv module) reads it.

The stream is cut into blocks of whole records (a newline with an even number of quotes
before it). A block Arrow may read is one where both parsers agree by construction: every
quote opens or closes a field (strict CSV), no line break but ``\\n`` and ``\\r\\n`` (the
reference splits lines as ``str.splitlines`` does, on ``\\x1c``, ``\\u2028`` and the like),
no blank line (a blank row to the reference, skipped by Arrow), no NUL. A block Arrow
refuses anyway (rows of another width, invalid UTF-8) is read by the csv module, as its
cut is sound; a block that is not plain CSV hands it and the rest of the upload to the
reference reader. Memory stays flat: one block (a few MB) at a time.

>>> blocks = csv_blocks([b'\\xef\\xbb\\xbfid,name\\n1,"A, da"\\n2,', b'Alan\\n'], "csv")
>>> next(blocks)
['id', 'name']
>>> [b if isinstance(b, list) else b.to_pylist() for b in blocks]
[[{'0': '1', '1': 'A, da'}, {'0': '2', '1': 'Alan'}]]
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .readers import ReadError, read_rows

BLOCK_BYTES = 4 << 20
BOM = b"\xef\xbb\xbf"
# Bytes where the two readers could part ways: line breaks other than \n and \r\n, NUL,
# and blank lines (also inside quotes, where they are harmless: such a block is only slower).
# (Substring searches: a regex alternation scans the bytes far more slowly.)
ODD = (b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8")
ODD += (b"\xe2\x80\xa9", b"\n\n", b"\n\r\n")
FIELD_LIMIT = csv.field_size_limit()


def _strict(delimiter: bytes) -> re.Pattern[bytes]:
    """Strict CSV records: quoted fields only whole, quotes inside doubled."""
    d = re.escape(delimiter)
    field = rb'(?:"(?:[^"]++|"")*+"|[^"' + d + rb"\r\n]*+)"
    return re.compile(rb"(?:" + field + rb"(?:" + d + field + rb")*+(?:\r?\n|\Z))*+")


def _odd(block: bytes) -> bool:
    """Whether ``block`` holds anything where the csv module and Arrow could part ways."""
    return (
        any(odd in block for odd in ODD)
        or block.startswith((b"\n", b"\r\n"))
        or block.count(b"\r") != block.count(b"\r\n")
    )


def _cut(buffer: bytes, final: bool) -> int:
    """The end of the last whole record in ``buffer`` (0: none yet)."""
    if final:
        return len(buffer)
    end = buffer.rfind(b"\n")
    if b'"' not in buffer:
        return end + 1
    quotes = buffer.count(b'"', 0, end)
    while end >= 0 and quotes % 2:
        previous = buffer.rfind(b"\n", 0, end)
        quotes -= buffer.count(b'"', previous + 1, end)
        end = previous
    return end + 1


def _rows(block: bytes, delimiter: str) -> list[list[str]]:
    """A block (whole records) read by the csv module, as the reference reads it."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReadError(f"the upload is not UTF-8 text: {e}") from e
    try:
        return list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter))
    except csv.Error as e:
        fmt = "TSV" if delimiter == "\t" else "CSV"
        raise ReadError(f"not valid {fmt}: {e}") from e


def csv_blocks(chunks: Iterable[bytes], format: str) -> Iterator[Any]:
    """The header (a list of labels, or None for an empty upload), then blocks of rows:
    each an Arrow table of text cells with columns named "0", "1", ..., or a list of
    rows (lists of strings) where the csv module read them."""
    delimiter = "\t" if format == "tsv" else ","
    strict = _strict(delimiter.encode())
    chunks = iter(chunks)
    buffer, final = b"", False
    while not final and (b"\n" not in buffer or _cut(buffer, False) == 0):
        chunk = next(chunks, None)
        final = chunk is None
        buffer += chunk or b""
    if buffer.startswith(BOM):
        buffer = buffer[len(BOM) :]
    end = _record_end(buffer, _cut(buffer, final))
    if _odd(buffer[:end]) or not strict.fullmatch(buffer, 0, end):
        # not plain CSV from the start: the reference reads it all
        yield from _reference(buffer, chunks, delimiter, header=True)
        return
    header_rows = _rows(buffer[:end], delimiter)
    if not header_rows:
        yield None
        return
    header, width = header_rows[0], len(header_rows[0])
    yield header
    buffer = buffer[end:]
    names = [str(i) for i in range(width)]
    options = (
        pa_csv.ReadOptions(column_names=names, block_size=1 << 20),
        pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    while True:
        while not final and len(buffer) < BLOCK_BYTES:
            chunk = next(chunks, None)
            final = chunk is None
            buffer += chunk or b""
        end = _cut(buffer, final)
        if end == 0 and not final:
            chunk = next(chunks, None)  # a record longer than the block: read on
            final = chunk is None
            buffer += chunk or b""
            continue
        block, buffer = buffer[:end], buffer[end:]
        if not block:
            return
        quoted = b'"' in block
        if _odd(block) or (quoted and not strict.fullmatch(block)):
            yield from _reference(block + buffer, chunks, delimiter, header=False)
            return
        table = None if block.startswith(BOM) else _arrow(block, delimiter, quoted, options)
        if table is None:  # Arrow would take a BOM for a byte order mark; or refused it
            try:
                table = _rows(block, delimiter)
            except ReadError:  # the rows before the fault count, as the reference reads them
                yield from _reference(block + buffer, chunks, delimiter, header=False)
                return
        yield table
        if final and not buffer:
            return


def _record_end(buffer: bytes, end: int) -> int:
    """Where the first record (the header) of ``buffer[:end]`` ends."""
    position = 0
    while True:
        newline = buffer.find(b"\n", position, end)
        if newline < 0:
            return end
        if buffer.count(b'"', 0, newline) % 2 == 0:
            return newline + 1
        position = newline + 1


def _arrow(block: bytes, delimiter: str, quoted: bool, options) -> pa.Table | None:
    read, convert = options
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted)
    try:
        table = pa_csv.read_csv(
            io.BytesIO(block), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid:  # rows of another width, invalid UTF-8: the csv module reads it
        return None
    if any((pc.max(pc.utf8_length(column)).as_py() or 0) > FIELD_LIMIT for column in table.columns):
        return None  # the csv module refuses such a field
    return table


def _reference(head: bytes, chunks: Iterator[bytes], delimiter: str, header: bool) -> Iterator[Any]:
    """The rest of the upload, read by the reference reader, in blocks of rows."""
    # line by line: a fault (invalid UTF-8) ends the rows where it is, not a block earlier
    lines = [line + b"\n" for line in head.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    rows = read_rows(chain(lines, chunks), "tsv" if delimiter == "\t" else "csv", bom=header)
    if header:
        yield next(rows, None)
    block: list[list[str]] = []
    try:
        for row in rows:
            block.append(row)
            if len(block) == 10_000:
                yield block
                block = []
    finally:  # the rows read before a fault still count, as in the reference's batches
        if block:
            yield block
