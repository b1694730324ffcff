"""Reading uploads: which format a request carries, and its body as a stream of chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from ..errors import BadRequest
from ..schema.readers import CONTENT_TYPES, FORMATS


def format_of(request) -> str | None:
    """``?format=`` wins; otherwise the Content-Type names it (None for plain JSON bodies)."""
    explicit = request.args.get("format")
    if explicit:
        if explicit not in FORMATS:
            raise BadRequest(f'"format" must be one of {", ".join(FORMATS)}')
        return explicit
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return CONTENT_TYPES.get(content_type)


async def body_chunks(receive) -> AsyncIterator[bytes]:
    """The request body as it arrives, chunk by chunk (ASGI ``http.request`` messages)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client went away")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


def rows_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    if ("row" in body) == ("rows" in body):
        raise BadRequest('JSON must have one or other of "row" or "rows"')
    rows = [body["row"]] if "row" in body else body["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequest('"rows" must be a list of objects')
    return rows


def table_of(body: bytes, format: str) -> list[list[str]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadRequest(f"the upload is not UTF-8 text: {e}") from e
    table = list(csv.reader(io.StringIO(text), delimiter="\t" if format == "tsv" else ","))
    if not table:
        raise BadRequest("the upload is empty: a header row is needed")
    return table
