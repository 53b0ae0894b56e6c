"""Logs → per-service error counts, per-template rates and first-seen templates.

Templates are mined online by ``LogTemplateMiner``; counts are per event-time window.
"""

from __future__ import annotations

from collections import defaultdict

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.windows import bucket_of, closed_buckets

__all__ = ["ERROR_SEVERITIES", "LogWindows"]

ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "CRITICAL", "EMERGENCY", "ALERT"})


class LogWindows:
    """Counts log lines per window and mines their templates."""

    def __init__(self, window_s: float, miner: LogTemplateMiner | None = None) -> None:
        self.window_s = window_s
        self.miner = miner or LogTemplateMiner()
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        self._errors: dict[int, dict[str, int]] = defaultdict(dict)
        self._templates: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        self._new: list[Observation] = []
        self._names: dict[str, str] = {}

    def add(self, record: LogRecord) -> None:
        ts = record.observed_at.timestamp()
        self.watermark = max(self.watermark, ts)
        bucket = bucket_of(ts, self.window_s)
        if self._closed_upto is not None and bucket <= self._closed_upto:
            self.late += 1
            return
        errors = self._errors[bucket]
        errors[record.service] = errors.get(record.service, 0) + (
            record.severity in ERROR_SEVERITIES
        )
        match = self.miner.add(record.body)
        key = (record.service, match.template_id)
        templates = self._templates[bucket]
        templates[key] = templates.get(key, 0) + 1
        self._names[match.template_id] = match.template
        if match.is_new:
            self._new.append(
                Observation(
                    f"{record.service}|log_new_template",
                    record.service,
                    Signal.LOG_NEW_TEMPLATE,
                    1.0,
                    ts,
                    detail=match.template[:500],
                )
            )

    def drain(self, watermark: float | None = None, flush: bool = False) -> list[Observation]:
        """Observations of windows closed by ``watermark``, and new templates since last time."""
        out, self._new = self._new, []
        buckets = sorted(self._errors.keys() | self._templates.keys())
        if not flush:
            mark = self.watermark if watermark is None else watermark
            buckets = closed_buckets(buckets, mark, self.window_s)
        if buckets:
            self._closed_upto = max(buckets[-1], self._closed_upto or buckets[-1])
        w = self.window_s
        for bucket in buckets:
            end = (bucket + 1) * w
            for service, n in self._errors.pop(bucket, {}).items():
                out.append(
                    Observation(
                        f"{service}|log_error_rate", service, Signal.LOG_ERROR_RATE, n / w, end, w
                    )
                )
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
