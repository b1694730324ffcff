"""Bulk imports: stream an upload, validate it in batches, write it in one transaction.

The upload is read chunk by chunk into a small bounded queue; the database's write thread
pulls from it, parses, validates and writes batch after batch inside one transaction, so
memory stays flat however large the file, and an import lands whole or not at all (with
``on_invalid="skip"``, the valid rows land and the rest are reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from ..errors import BadRequest, DataServiceError
from ..providers.base import ProviderError
from ..schema.cast import make_error
from ..schema.readers import FORMATS, ReadError
from . import audit
from .core import DataService
from .datatables import table_spec
from .import_fast import Batch, Prefetch, json_batches, tabular_batches
from .import_progress import ImportProgress, ImportStatus
from .writes import (
    ON_INVALID,
    documents_of,
    foreign_key_lookup,
    table_validator,
)

MODES = ("insert", "upsert")
MAX_REPORTED_ERRORS = 1000
QUEUE_CHUNKS = 16


class _Refused(Exception):
    """The import writes nothing; the message says why."""


class _Run:
    """The write-thread side of one import: parse, validate, hand batches to the provider."""

    def __init__(self, status: ImportStatus, datatable, spec, chunks: Iterable[bytes], **options):
        self.status = status
        self.datatable = datatable
        self.spec = spec
        self.chunks = chunks
        self.skip = options["on_invalid"] == "skip"
        self.batch_size = options["batch_size"]
        self.validator = table_validator(spec.schema)
        # Self-references may point at rows of earlier batches: their keys join the lookup.
        base = options["foreign_keys"]
        self.own_keys: dict[tuple[str, ...], set] = {}
        for fk in spec.schema.get("foreignKeys") or []:
            if not (fk.get("reference") or {}).get("resource"):
                fields = fk["reference"]["fields"]
                fields = (fields,) if isinstance(fields, str) else tuple(fields)
                self.own_keys[fields] = set(base("", fields) or ())

        def lookup(resource: str, fields: tuple[str, ...]):
            if not resource and tuple(fields) in self.own_keys:
                return self.own_keys[tuple(fields)]
            return base(resource, fields)

        self.lookup = lookup
        self.prefetch: Prefetch | None = None

    def _note(self, errors: list[dict[str, Any]]) -> None:
        self.status.rows_invalid += len({e["rowNumber"] for e in errors if e.get("rowNumber")})
        room = MAX_REPORTED_ERRORS - len(self.status.errors)
        self.status.errors += errors[: max(room, 0)]
        if not self.skip:
            raise _Refused(
                "invalid rows: nothing was imported (send on_invalid=skip to keep the rest)"
            )

    def _check_header(self, header: list[str] | None) -> None:
        """A header that does not fit is one refusal, before any row is read."""
        if header is None:
            raise ReadError("the upload is empty: a header row is needed")
        errors = self.validator.validate_table(header, []).errors
        if errors:
            self.status.errors = errors[:MAX_REPORTED_ERRORS]
            raise _Refused(
                "the header does not fit the schema: nothing was imported ("
                + "; ".join(e["message"] for e in errors[:5])
                + ")"
            )

    def _validated(self) -> Iterator[Batch]:
        if self.status.format in ("csv", "tsv"):
            batches = tabular_batches(
                self.chunks,
                self.status.format,
                self.validator,
                self.batch_size,
                self._check_header,
                self.lookup,
            )
        else:
            batches = json_batches(
                self.chunks,
                self.status.format,
                self.validator,
                self.batch_size,
                lambda rows: documents_of(self.datatable, rows),
                self.lookup,
            )
        if self.own_keys:  # a batch's keys must be known before the next is checked
            yield from batches
            return
        self.prefetch = Prefetch(batches)
        yield from self.prefetch

    def batches(self) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        for batch in self._validated():
            self.status.rows_read += batch.size
            if batch.failure is not None:
                raise batch.failure
            if batch.errors:
                self._note(batch.errors)
            for fields, keys in self.own_keys.items():
                keys.update(tuple(row.get(f) for f in fields) for row in batch.rows)
            yield batch.rows, batch.row_numbers
            self.status.rows_written += len(batch.rows)

    def refused(self, numbers: list[int]) -> None:
        errors = [make_error("unique-error", n, "the row's key is already stored") for n in numbers]
        self.status.rows_written -= len(numbers)
        self._note(errors)


async def import_rows(
    service: DataService,
    datatable: dict[str, Any],
    chunks: AsyncIterator[bytes],
    *,
    format: str,
    actor: str | None,
    mode: str = "insert",
    on_invalid: str = "refuse",
    batch_size: int = 10_000,
) -> ImportStatus:
    if format not in FORMATS:
        raise BadRequest(f'"format" must be one of {", ".join(FORMATS)}')
    if mode not in MODES:
        raise BadRequest(f'"mode" must be one of {", ".join(MODES)}')
    if on_invalid not in ON_INVALID:
        raise BadRequest(f'"on_invalid" must be one of {", ".join(ON_INVALID)}')
    if not datatable["is_materialized"]:
        raise DataServiceError(f'DataTable "{datatable["name"]}" is not materialized', status=409)
    spec = table_spec(datatable)
    target = f"{datatable['app_slug']}/{datatable['datasource_slug']}/{datatable['name']}"
    status = ImportStatus(secrets.token_hex(8), target, format, mode)
    pipe: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    run = _Run(
        status,
        datatable,
        spec,
        _drain(pipe),
        on_invalid=on_invalid,
        batch_size=batch_size,
        foreign_keys=await foreign_key_lookup(service, datatable, spec),
    )
    provider = service.provider_for(datatable)
    async with ImportProgress(service, datatable, status, actor) as progress:
        with audit.stopwatch() as elapsed:
            writing = asyncio.ensure_future(
                provider.import_batches(
                    spec,
                    run.batches(),
                    "upsert" if mode == "upsert" else "insert",
                    run.skip,
                    run.refused,
                )
            )
            await _feed(chunks, pipe, writing)
            try:
                try:
                    await writing
                finally:
                    if run.prefetch is not None:  # its thread may wait for chunks: let it end
                        run.prefetch.close()
                        with contextlib.suppress(queue.Full):
                            pipe.put_nowait(None)
                status.end("done")
            except _Refused as refusal:
                status.end("refused", str(refusal))
            except (ReadError, ProviderError) as error:
                status.end("failed", str(error))
            duration = elapsed()
        await progress.finish(  # its row and its audit entry, in one transaction
            lambda conn: audit.record(
                conn,
                **audit.about_datatable(datatable, actor),
                operation="import_rows",
                status="applied" if status.state == "done" else "refused",
                error=status.error,
                duration_ms=duration,
                details={
                    "rows": status.rows_written,
                    **{k: v for k, v in status.as_dict().items() if k != "report"},
                },
            )
        )
    return status


async def _feed(chunks: AsyncIterator[bytes], pipe: queue.Queue, writing: asyncio.Future) -> None:
    """Move the upload into the queue; stop early if the writer has already finished."""
    try:
        async for chunk in chunks:
            if writing.done():
                break
            await asyncio.to_thread(_put, pipe, chunk, writing)
    except Exception as error:  # noqa: BLE001 - handed to the writer, which reports it
        await asyncio.to_thread(_put, pipe, ReadError(f"the upload broke off: {error}"), writing)
    await asyncio.to_thread(_put, pipe, None, writing)


def _put(pipe: queue.Queue, item: Any, writing: asyncio.Future) -> None:
    while not writing.done():
        try:
            pipe.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(pipe: queue.Queue) -> Iterator[bytes]:
    while (item := pipe.get()) is not None:
        if isinstance(item, Exception):
            raise item
        yield item
