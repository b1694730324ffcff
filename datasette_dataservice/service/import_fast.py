"""The import's fast paths: Arrow reads and checks CSV/TSV columns; JSON is read in blocks.

:func:`tabular_batches` turns a CSV/TSV upload into batches of exactly ``batch_size`` rows
(the reference's batches: uniqueness within a batch, reports and progress depend on them),
each either validated by the columnar fast path (:mod:`..schema.columnar`) or, when the fast
path has anything to report or cannot read the batch, by the reference row validator, whose
result (rows, numbers, errors) is then the batch's. Schemas with foreign keys, and headers
that do not fit, always take the reference path. :func:`json_batches` reads a JSON array or
NDJSON with :mod:`..schema.json_blocks` (the reference readers' rows and errors) and
validates each batch as records, as the insert API does. :class:`Prefetch` runs either in a
thread of its own, ahead of the write."""

from __future__ import annotations

import operator
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pyarrow as pa

from ..schema.columnar import ColumnarRows, ColumnarValidator, Refer
from ..schema.csv_blocks import csv_blocks
from ..schema.json_blocks import json_rows
from ..schema.readers import ReadError, read_rows
from ..schema.rows import RowValidator
from .writes import validate_records

Block = pa.Table | list[list[str]]
#: False: every batch through the reference path (benchmarks compare the two in one run)
ENABLED = True
HAS_ID = operator.methodcaller("__contains__", "_id")


@dataclass
class Batch:
    """One batch's outcome: rows to write, their row numbers, and what the reference found."""

    rows: list[dict[str, Any]] | ColumnarRows
    row_numbers: list[int]
    errors: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    #: the upload is refused after this batch's rows were read (counted by the consumer)
    failure: Exception | None = None


def fast_validator(validator: RowValidator, header: list[str]) -> ColumnarValidator | None:
    """The columnar validator for this header, or None where only the reference will do."""
    if validator.foreign_keys or not ENABLED:
        return None
    errors, layout = validator._read_header([str(label) for label in header])
    if errors or not all(isinstance(item, int) for item in layout):
        return None
    return ColumnarValidator(validator, layout)


def tabular_batches(
    chunks: Iterable[bytes],
    format: str,
    validator: RowValidator,
    batch_size: int,
    check_header: Callable[[list[str]], None],
    foreign_keys: Any = None,
) -> Iterator[Batch]:
    """Batches of a CSV/TSV upload, validated. ``check_header`` refuses a header that does
    not fit (raising); an empty upload yields nothing after calling it with None."""
    blocks = csv_blocks(chunks, format)
    header = next(blocks, None)
    check_header(header)
    fast = fast_validator(validator, header)
    number = 2  # frictionless counts a CSV header as row 1
    for block in rebatch(blocks, batch_size):
        size = len(block)
        batch = None
        if fast is not None and isinstance(block, pa.Table):
            try:
                rows = fast.validate(block, number)
                batch = Batch(rows, list(range(number, number + size)), [], size)
            except Refer:
                pass
        if batch is None:
            cells = block if isinstance(block, list) else table_rows(block)
            result = validator.validate_table(
                header, cells, first_row_number=number, foreign_keys=foreign_keys
            )
            batch = Batch(result.rows, result.row_numbers, result.errors, size)
        number += size
        yield batch


class Prefetch:
    """Run an iterator in a thread of its own, up to ``depth`` items ahead, so that reading
    and checking batch N + 1 (Arrow releases the GIL) overlaps writing batch N. Its errors
    are raised where the item would have been; ``close()`` lets the thread end."""

    _END = object()

    def __init__(self, source: Iterator[Any], depth: int = 2) -> None:
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self.thread.start()

    def _run(self, source: Iterator[Any]) -> None:
        try:
            for item in source:
                if not self._put((item, None)):
                    return
            self._put((self._END, None))
        except BaseException as error:  # noqa: BLE001 - raised in the consumer
            self._put((None, error))

    def _put(self, item: tuple) -> bool:
        while not self.stopped.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        try:
            while True:
                item, error = self.items.get()
                if error is not None:
                    raise error
                if item is self._END:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self.stopped.set()


def json_batches(
    chunks: Iterable[bytes],
    format: str,
    validator: RowValidator,
    batch_size: int,
    documents: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    foreign_keys: Any = None,
) -> Iterator[Batch]:
    """Batches of a JSON array or NDJSON upload, validated as records. Read by
    :func:`..schema.json_blocks.json_rows` (the reference readers' rows and errors, faster),
    or by the reference readers when the fast path is off."""
    rows = json_rows(chunks, format) if ENABLED else read_rows(chunks, format)
    number = 1
    while batch := list(islice(rows, batch_size)):
        if set(map(type, batch)) != {dict}:
            failure = ReadError("every JSON row must be an object")
            yield Batch([], [], [], len(batch), failure)  # read, as before the check
            return
        records = documents(batch)
        if any(map(HAS_ID, records)):  # jsonb document ids: validate_records keeps them
            result = validate_records(validator, records, number, foreign_keys)
        else:  # what validate_records does when no row has an "_id"
            result = validator.validate_records(
                records, first_row_number=number, foreign_keys=foreign_keys
            )
        yield Batch(result.rows, result.row_numbers, result.errors, len(batch))
        number += len(batch)


def table_rows(table: pa.Table) -> list[list[str]]:
    """Text cells as the csv module gives them: one list per row."""
    return [list(row) for row in zip(*(c.to_pylist() for c in table.columns), strict=True)]


def rebatch(blocks: Iterator[Block], size: int) -> Iterator[Block]:
    """Blocks of any length as batches of exactly ``size`` rows (the last may be shorter):
    an Arrow table where every row came from Arrow, else lists of text cells."""
    pending: list[Block] = []
    count = 0
    for block in blocks:
        if not len(block):
            continue
        pending.append(block)
        count += len(block)
        while count >= size:
            batch, rest, taken = [], [], 0
            for piece in pending:
                need = size - taken
                if need <= 0:
                    rest.append(piece)
                elif len(piece) <= need:
                    batch.append(piece)
                    taken += len(piece)
                else:
                    batch.append(_slice(piece, 0, need))
                    rest.append(_slice(piece, need, len(piece)))
                    taken = size
            pending, count = rest, count - size
            yield _merge(batch)
    if count:
        yield _merge(pending)


def _slice(block: Block, start: int, stop: int) -> Block:
    return block.slice(start, stop - start) if isinstance(block, pa.Table) else block[start:stop]


def _merge(pieces: list[Block]) -> Block:
    if all(isinstance(p, pa.Table) for p in pieces):
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
    rows: list[list[str]] = []
    for piece in pieces:
        rows += table_rows(piece) if isinstance(piece, pa.Table) else piece
    return rows
