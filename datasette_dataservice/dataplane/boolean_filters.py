"""A boolean field's filter values, read as its Table Schema reads them.

SQLite stores a boolean field as 1/0, PostgreSQL as a boolean; ``?active=true`` finds the
same rows on both because both read the value by the field's ``trueValues`` and
``falseValues`` (frictionless' defaults: true, True, TRUE, 1 / false, False, FALSE, 0) for
the lookups that compare with a value: ``exact``, ``not``, ``in`` and ``notin``. ``1`` and
``0``, as both engines show booleans, are read too. Any other value stays text, which no
boolean equals.
"""

from __future__ import annotations

TRUE_VALUES = ["true", "True", "TRUE", "1"]
FALSE_VALUES = ["false", "False", "FALSE", "0"]
SHOWN = {"1": True, "0": False}
DEFAULT_READING = {**dict.fromkeys(TRUE_VALUES, True), **dict.fromkeys(FALSE_VALUES, False)}
BOOLEAN_LOOKUPS = {"exact", "not", "in", "notin"}

Readings = dict[str, dict[str, bool]]  # boolean field name -> {value text: truth}


def readings_of(schema: dict) -> Readings:
    """Each boolean field's values as the field reads them.

    >>> readings_of({"fields": [{"name": "ok", "type": "boolean", "trueValues": ["y"],
    ...                          "falseValues": ["n"]}, {"name": "n", "type": "integer"}]})
    {'ok': {'1': True, '0': False, 'y': True, 'n': False}}
    """
    readings = {}
    for field in schema.get("fields", []):
        if field.get("type") == "boolean":
            readings[field["name"]] = {
                **SHOWN,
                **dict.fromkeys(field.get("trueValues", TRUE_VALUES), True),
                **dict.fromkeys(field.get("falseValues", FALSE_VALUES), False),
            }
    return readings
