"""``constraints.pattern`` compiled with RE2, a linear-time engine: no pattern from a schema
can make a match take longer than the length of the text allows (Python's ``re``
backtracks, so ``(a+)+$`` on 26 characters takes seconds).

Table Schema patterns are XML Schema regular expressions, which have no backreferences or
lookaround; RE2 refuses those, and so does :func:`pattern_problem`. The pattern is anchored
as frictionless anchors it, ``^pattern$`` matched with Python's ``re``, whose final ``$``
also matches before a trailing newline: RE2 gets ``^pattern\\n?$``. (A ``$`` the pattern
itself contains matches only at the very end; ``\\d`` and ``\\w`` are ASCII in RE2.)

>>> matches = compile_pattern("[A-Z]{3}")
>>> bool(matches("ABC")), bool(matches("ABCD"))
(True, False)
>>> pattern_problem(r"(a)\\1")
'invalid escape sequence: \\\\1'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # refused patterns are reported to the client, not to stderr


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Callable[[str], Any]:
    """A matcher for a schema pattern, anchored like frictionless: truthy
    when the whole text matches. Raises ``re2.error`` for a pattern RE2 cannot run."""
    return re2.compile(f"^{pattern}\\n?$", _OPTIONS).match


def pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot run ``pattern``, or None."""
    try:
        compile_pattern(pattern)
    except re2.error as error:
        reason = error.args[0] if error.args else "invalid pattern"
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None
