"""Pull the message body out of a raw log line.

Template mining works on the message body, without the header a logging library puts in
front of it (timestamp, host, level, logger, pid), because the header's values would
otherwise split every template. Structured log records (OTLP) carry the body already; this
is for plain text lines. It removes, in order and only where present: a leading timestamp,
a level word, and one ``component:`` / ``component[pid]:`` tag (a syslog host before the
tag goes with it). Whatever it cannot recognise stays in the body.

>>> message_body("2016-09-28 04:30:30, Info  CBS  Loaded Servicing Stack v6.1")
'CBS  Loaded Servicing Stack v6.1'
>>> message_body("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
'check pass; user unknown'
>>> message_body("17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn")
'Changing view acls to: yarn'
>>> message_body("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok")
'workerEnv.init() ok'
>>> message_body("no header here: keep it all")
'no header here: keep it all'
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["message_body"]

_TIMESTAMP: Final = re.compile(
    r"""^\[?(?:
        \d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T\s-]\d{1,2}[:.]\d{2}[:.]\d{2}(?:[.,]\d+)?)?
            (?:Z|[+-]\d{2}:?\d{2})?                        # 2016-09-28 04:30:30,123Z
      | \d{2}/\d{2}/\d{2}\s+\d{2}:\d{2}:\d{2}              # 17/06/09 20:10:40
      | (?:[A-Z][a-z]{2}\s+)?[A-Z][a-z]{2}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?:\s+\d{4})?
                                                           # [Sun] Dec 04 04:47:44 [2005]
    )\]?,?\s+""",
    re.VERBOSE,
)
_LEVEL: Final = re.compile(
    r"^[\[<(]?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL|CRITICAL|CRIT"
    r"|ALERT|EMERG)[\]>)]?:?\s+",
    re.IGNORECASE,
)
_TAG: Final = re.compile(r"^(?:[\w.\-]+\s+)?[\w.\-/$()]+(?:\[\d+\])?:\s+")


def message_body(line: str) -> str:
    """The message body of a raw log line (the line itself if no header is recognised)."""
    body = line.strip()
    timestamp = _TIMESTAMP.match(body)
    if timestamp is None:
        return body
    body = body[timestamp.end() :]
    level = _LEVEL.match(body)
    if level is not None:
        body = body[level.end() :]
    tag = _TAG.match(body)
    if tag is not None and tag.end() < len(body):
        body = body[tag.end() :]
    return body
