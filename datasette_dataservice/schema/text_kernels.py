"""Arrow compute kernels (RE2) that accept a subset of what the row validator's regexes
(:data:`.fast_paths.PATTERNS`) accept, for whole columns of text at once.

A value a kernel accepts, the row validator's own fast path keeps as given; a value it does
not accept may still be fine (RE2 lacks lookaround and possessive quantifiers, and February
29 needs a calendar), so callers send those through the row validator's code.
Used by the import's columnar checks (:mod:`.columnar`) and by the JSON records' column
checks (:mod:`.column_checks`).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # 0001-9999
# A month and a day it has in every year: 1-28 in any month, 29 and 30 in any but February,
# 31 in the long months. February 29 (leap years) goes to the row validator's parser.
MONTH_DAY = (
    "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
PATTERNS = {
    "integer": "^-?[0-9]{1,18}$",
    "number": r"^-?[0-9]{1,15}(?:\.[0-9]{1,15})?$",
    "year": "^[0-9]{4}$",
    "date": f"^{YEAR}-{MONTH_DAY}$",
    # fast_paths.PATTERNS["datetime"], a value kept as given: the lookaheads are checked apart
    "datetime": (
        f"^{YEAR}-{MONTH_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
        r"(?:\.[0-9]{6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$"
    ),
}
# fast_paths.PATTERNS["email"] (re.ASCII) without lookaround or possessive quantifiers, which RE2
# lacks: labels of 1-62 characters not ending in "-", a TLD of 2-62 ending in a letter; the
# local part's 1-64 characters (the lookahead) are EMAIL_LOCAL.
LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,60}[A-Za-z0-9])?"
PATTERNS["email"] = (
    r"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@"
    f"(?:{LABEL}\\.)+[A-Za-z0-9][A-Za-z0-9-]{{0,60}}[A-Za-z]$"
)
EMAIL_LOCAL = "^[^@]{1,64}@"


def email_accepted(cells: pa.Array) -> pa.Array:
    """Cells the email fast path keeps (shorter than 255 characters, the pattern)."""
    accepted = pc.less(pc.utf8_length(cells), 255)
    accepted = pc.and_(accepted, pc.match_substring_regex(cells, EMAIL_LOCAL))
    return pc.and_(accepted, pc.match_substring_regex(cells, PATTERNS["email"]))


def datetime_accepted(cells: pa.Array) -> pa.Array:
    """Cells the datetime fast path keeps as given, but for February 29."""
    accepted = pc.match_substring_regex(cells, PATTERNS["datetime"])
    unusual = pc.or_(  # the lookaheads: no ".000000", no offset of 00:00
        pc.match_substring(cells, ".000000"),
        pc.or_(pc.ends_with(cells, "+00:00"), pc.ends_with(cells, "-00:00")),
    )
    return pc.and_not(accepted, unusual)
