"""Logs → per-service error and warning rates, per-template rates and first-seen templates.

Templates are mined online by ``LogTemplateMiner``; counts are per event-time window.
Every window in which a service logged anything gives its ``log_error_rate`` and
``log_warn_rate`` (lines a second at that level, 0 when there were none), so a burst
stands out against a baseline that includes the quiet windows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from math import floor

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.windows import closed_buckets

__all__ = ["ERROR_SEVERITIES", "WARN_SEVERITIES", "LogWindows"]

ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "CRITICAL", "EMERGENCY", "ALERT"})
WARN_SEVERITIES = frozenset({"WARN", "WARNING"})


class LogWindows:
    """Counts log lines per window and mines their templates."""

    def __init__(self, window_s: float, miner: LogTemplateMiner | None = None) -> None:
        self.window_s = window_s
        self.miner = miner or LogTemplateMiner()
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        # per window and service: [error lines, warning lines]
        self._levels: dict[int, dict[str, list[int]]] = defaultdict(dict)
        self._templates: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        self._new: list[Observation] = []
        self._names: dict[str, str] = {}

    def add(self, record: LogRecord) -> None:
        """Account one log line."""
        self.add_all((record,))

    def add_all(self, records: Iterable[LogRecord]) -> None:
        """Account log lines, in order (one loop, no call per line but the miner's)."""
        window_s, closed_upto, watermark = self.window_s, self._closed_upto, self.watermark
        all_levels, all_templates = self._levels, self._templates
        levels: dict[str, list[int]] = {}
        templates: dict[tuple[str, str], int] = {}
        current = None
        add, names = self.miner.add, self._names
        errors, warnings = ERROR_SEVERITIES, WARN_SEVERITIES
        for record in records:
            ts = record.observed_at.timestamp()
            if ts > watermark:
                watermark = ts
            bucket = floor(ts / window_s)
            if closed_upto is not None and bucket <= closed_upto:
                self.late += 1
                continue
            if bucket != current:
                current, levels, templates = bucket, all_levels[bucket], all_templates[bucket]
            service, severity = record.service, record.severity
            counts = levels.get(service)
            if counts is None:
                counts = levels[service] = [0, 0]
            if severity in errors:
                counts[0] += 1
            elif severity in warnings:
                counts[1] += 1
            match = add(record.body)
            key = (service, match.template_id)
            templates[key] = templates.get(key, 0) + 1
            names[match.template_id] = match.template
            if match.is_new:
                self._new.append(
                    Observation(
                        f"{service}|log_new_template",
                        service,
                        Signal.LOG_NEW_TEMPLATE,
                        1.0,
                        ts,
                        detail=match.template[:500],
                    )
                )
        self.watermark = watermark

    def drain(self, watermark: float | None = None, flush: bool = False) -> list[Observation]:
        """Observations of windows closed by ``watermark``, and new templates since last time."""
        out, self._new = self._new, []
        buckets = sorted(b for b, seen in self._levels.items() if seen)
        if not flush:
            mark = self.watermark if watermark is None else watermark
            buckets = closed_buckets(buckets, mark, self.window_s)
        if buckets:
            self._closed_upto = max(buckets[-1], self._closed_upto or buckets[-1])
        w, error_rate, warn_rate = self.window_s, Signal.LOG_ERROR_RATE, Signal.LOG_WARN_RATE
        for bucket in buckets:
            end = (bucket + 1) * w
            for service, (errors, warnings) in self._levels.pop(bucket).items():
                out += [
                    Observation(
                        f"{service}|log_error_rate", service, error_rate, errors / w, end, w
                    ),
                    Observation(
                        f"{service}|log_warn_rate", service, warn_rate, warnings / w, end, w
                    ),
                ]
            for (service, tid), n in self._templates.pop(bucket, {}).items():
                out.append(
                    Observation(
                        f"{service}|log_template_rate|{tid}",
                        service,
                        Signal.LOG_TEMPLATE_RATE,
                        n / w,
                        end,
                        w,
                        detail=self._names.get(tid, "")[:500],
                    )
                )
        return out
