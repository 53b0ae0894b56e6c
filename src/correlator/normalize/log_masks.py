"""Generic variable shapes masked out of log messages before template mining.

Each mask is a regular expression for a shape of value that is a variable in any log
(addresses, ids, numbers, paths), never a rule for one product's messages. Masks run in
order, so the more specific shapes (a UUID, an IP address) come before the digits they
contain.

>>> import re
>>> text = "GET /v2/servers/1f0a took 12ms from 10.0.0.1:8080"
>>> for mask in DEFAULT_MASKS:
...     text = re.sub(mask.pattern, f"<{mask.name}>", text)
>>> text
'GET <PATH> took <DUR> from <IP>:<NUM>'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MASKS", "LogMask"]

# Left and right edges of a value: not glued to a letter or digit.
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"


class LogMask(BaseModel):
    """One variable shape: matches of ``pattern`` become ``<name>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Z]+$", description="Mask token name, upper case.")
    pattern: str = Field(description="Python regular expression for the variable shape.")


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
_X = "[0-9a-fA-F]"

DEFAULT_MASKS: tuple[LogMask, ...] = (
    LogMask(name="URL", pattern=r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+"),
    LogMask(
        name="TIME",
        pattern=(
            rf"\b(?:{_DAY},?\s+)?{_MONTH}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?{_CLOCK}(?:\s+\d{{4}})?\b"
            rf"|{_L}\d{{4}}[-/]\d{{1,2}}[-/]\d{{1,2}}(?:[T ]{_CLOCK})?{_ZONE}?{_R}"
            rf"|{_L}{_CLOCK}{_R}"
        ),
    ),
    LogMask(name="PATH", pattern=r"(?<![\w/.])(?:[A-Za-z]:)?(?:[/\\][\w.\-~@+$]+){2,}[/\\]?"),
    LogMask(
        name="UUID",
        pattern=rf"{_L}{_X}{{8}}-{_X}{{4}}-{_X}{{4}}-{_X}{{4}}-{_X}{{12}}{_R}",
    ),
    LogMask(name="MAC", pattern=_L + r"(?:[0-9a-fA-F]{2}[:\-]){5}[0-9a-fA-F]{2}" + _R),
    LogMask(name="IP", pattern=r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]*\d)"),
    LogMask(name="HEX", pattern=_L + r"0[xX][0-9a-fA-F]+" + _R),
    LogMask(name="ID", pattern=rf"{_L}(?={_X}*\d)(?={_X}*[a-fA-F]){_X}{{8,}}{_R}"),
    LogMask(
        name="DUR",
        pattern=_L + r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|min|mins|h|hrs)" + _R,
    ),
    LogMask(name="NUM", pattern=_L + r"[-+]?\d+(?:\.\d+)?" + _R),
)
