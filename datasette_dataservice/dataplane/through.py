"""``?_through={"table": T, "column": C, "value": V}``: the rows a row of table T refers to,
where T's column C is V (core's ``through_filters``), read the same way on both engines.

Core answers a 500 for JSON that does not parse, a missing key and a table with no foreign
key to this one; here each is a 400 that says what to send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from datasette.utils.asgi import BadRequest

from .filter_values import refuse_nul

# Core's words for a table that does not refer to this one, as a 400 instead of its 500.
NO_FOREIGN_KEY = "Invalid _through - could not find corresponding foreign key"
SHAPE = '_through must be a JSON object: {"table": ..., "column": ..., "value": ...}'


@dataclass(frozen=True)
class Through:
    table: str  # the table whose rows refer to this one
    column: str  # the column of that table to match
    value: Any

    @property
    def human(self) -> str:
        """Core's human description of the filter."""
        return f'{self.table}.{self.column} = "{self.value}"'


def parse_through(text: str) -> Through:
    """One ``_through`` argument.

    >>> parse_through('{"table": "sales", "column": "id", "value": 1}').human
    'sales.id = "1"'
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(SHAPE) from None
    if not isinstance(data, dict) or not {"table", "column", "value"} <= data.keys():
        raise BadRequest(SHAPE)
    if not isinstance(data["table"], str) or not isinstance(data["column"], str):
        raise BadRequest(SHAPE)
    if isinstance(data["value"], dict | list):
        raise BadRequest('_through\'s "value" must be a string, a number or null')
    refuse_nul(
        [("_through", data["table"]), ("_through", data["column"]), ("_through", data["value"])]
    )
    return Through(data["table"], data["column"], data["value"])


def requested_throughs(args) -> list[Through]:
    return [parse_through(text) for text in args.getlist("_through")]


def referring_key(foreign_keys: list[dict[str, Any]], table: str) -> dict[str, Any]:
    """The first of ``foreign_keys`` (core's dicts: column, other_table, other_column) that
    refers to ``table``, as core picks it."""
    for key in foreign_keys:
        if key["other_table"] == table:
            return key
    raise BadRequest(NO_FOREIGN_KEY)
