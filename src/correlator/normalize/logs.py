"""Logs → per-service error and warning rates, per-template rates and first-seen templates.

Templates are mined online by ``LogTemplateMiner``; counts are per event-time window.
Every window in which a service logged anything gives its ``log_error_rate`` and
``log_warn_rate`` (lines a second at that level, 0 when there were none), so a burst
stands out against a baseline that includes the quiet windows.

Open windows are kept per origin partition (``correlator.normalize.windows``); ``take``
and ``merge`` hand one origin's windows to another instance. Level counts merge exactly.
Template counts travel under their template text: a count merges into the receiving
miner's template with the same text, and is dropped (counted in ``unmatched``) when that
miner has no such template.

By default one miner serves every origin. With ``miner_per_origin`` (detect members), each
origin gets a miner of its own, whose template ids are prefixed with the origin
(``<topic>:<partition>:<id>``) so that two origins' ids never meet in one series key;
``take_miner`` and ``put_miner`` move an origin's miner with its windows, so template ids
and first-seen novelty follow the partition and counts handed over all find their text.
Origin None always uses the shared ``miner``.
"""

from __future__ import annotations

from collections import ChainMap, defaultdict
from collections.abc import Iterable, Mapping
from math import floor

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.windows import Lagging, Origin

__all__ = ["ERROR_SEVERITIES", "WARN_SEVERITIES", "LogCounts", "LogWindows", "template_prefix"]

ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "CRITICAL", "EMERGENCY", "ALERT"})
WARN_SEVERITIES = frozenset({"WARN", "WARNING"})

LogCounts = tuple[dict[int, dict[str, list[int]]], dict[int, dict[tuple[str, str], int]]]
"""Open windows as plain data: bucket → service → [errors, warnings], and
bucket → (service, template text) → lines."""


def template_prefix(origin: Origin) -> str:
    """What an origin's own miner's template ids are prefixed with in series keys.

    >>> template_prefix(("shop-logs", 3))
    'shop-logs:3:'
    """
    if origin is None:
        return ""
    topic, partition = origin
    return f"{topic}:{partition}:"


class LogWindows:
    """Counts log lines per window and mines their templates."""

    def __init__(
        self,
        window_s: float,
        miner: LogTemplateMiner | None = None,
        *,
        miner_per_origin: bool = False,
    ) -> None:
        self.window_s = window_s
        self.miner = miner or LogTemplateMiner()
        #: Whether each origin but None mines with a miner of its own (``put_miner``).
        self.miner_per_origin = miner_per_origin
        self._miners: dict[Origin, LogTemplateMiner] = {}
        # Template id → text of each origin's own miner (the shared one's are ``_names``).
        self._names_by_origin: dict[Origin, dict[str, str]] = {}
        #: Origins whose own miner mined lines since ``changed_miners`` was last called.
        self._mined: set[Origin] = set()
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        self.lagging = Lagging()
        #: Handed-over template lines dropped: the miner here had no template of that text.
        self.unmatched = 0
        # per origin, window and service: [error lines, warning lines]
        self._levels_by_origin: dict[Origin, dict[int, dict[str, list[int]]]] = {}
        # per origin, window, service and template id: lines
        self._templates_by_origin: dict[Origin, dict[int, dict[tuple[str, str], int]]] = {}
        self._new: list[Observation] = []
        self._names: dict[str, str] = {}

    def add(self, record: LogRecord) -> None:
        """Account one log line."""
        self.add_all((record,))

    def add_all(self, records: Iterable[LogRecord], origin: Origin = None) -> None:
        """Account log lines, in order (one loop, no call per line but the miner's).

        ``origin`` is the partition they all came from, if the caller tracks it.
        """
        window_s, closed_upto, watermark = self.window_s, self.closed_upto(origin), self.watermark
        if origin in self.lagging.closed:
            records = list(records)
            latest = max((r.observed_at.timestamp() for r in records), default=0.0)
            self.lagging.saw(origin, latest)
        all_levels, all_templates = self._tables(origin)
        levels: dict[str, list[int]] = {}
        templates: dict[tuple[str, str], int] = {}
        current = None
        miner, names = self._miner_of(origin)
        if self._own_miner(origin):
            self._mined.add(origin)
        add = miner.add
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

    def _tables(
        self, origin: Origin
    ) -> tuple[dict[int, dict[str, list[int]]], dict[int, dict[tuple[str, str], int]]]:
        """The open windows of ``origin`` (created empty)."""
        levels = self._levels_by_origin.get(origin)
        if levels is None:
            levels = self._levels_by_origin[origin] = defaultdict(dict)
            self._templates_by_origin[origin] = defaultdict(dict)
        return levels, self._templates_by_origin[origin]

    def _own_miner(self, origin: Origin) -> bool:
        """Whether ``origin`` mines with a miner of its own (else the shared ``miner``)."""
        return origin is not None and self.miner_per_origin

    def _miner_of(self, origin: Origin) -> tuple[LogTemplateMiner, dict[str, str]]:
        """The miner mining ``origin``'s lines and its id → text names (created if due)."""
        if not self._own_miner(origin):
            return self.miner, self._names
        miner = self._miners.get(origin)
        if miner is None:
            miner = self._miners[origin] = self._seed()
            self._names_by_origin[origin] = {}
        return miner, self._names_by_origin[origin]

    def _seed(self) -> LogTemplateMiner:
        """A new origin's miner: a copy of the shared one, so that templates it already
        knows (an engine that had one miner for all) are not first seen again."""
        if self.miner.template_count == 0:
            return LogTemplateMiner(self.miner.config)
        return LogTemplateMiner.from_bytes(self.miner.to_bytes(), self.miner.config)

    def put_miner(self, origin: Origin, miner: LogTemplateMiner) -> None:
        """Mine ``origin``'s lines with ``miner`` from now on (one taken from another
        instance); do it before merging windows of ``origin`` so their counts find it."""
        if not self._own_miner(origin):
            raise ValueError("only an origin of a miner_per_origin LogWindows has its own miner")
        self._miners[origin] = miner
        self._names_by_origin.setdefault(origin, {})
        self._mined.discard(origin)

    def take_miner(self, origin: Origin) -> LogTemplateMiner | None:
        """Remove ``origin``'s own miner and return it (None: it has none); take its
        windows first, their template counts need it."""
        self._mined.discard(origin)
        if not any(self._levels_by_origin.get(origin, {}).values()):
            self._names_by_origin.pop(origin, None)  # else its open windows still need them
        return self._miners.pop(origin, None)

    def miners(self) -> dict[Origin, LogTemplateMiner]:
        """Every origin's own miner."""
        return dict(self._miners)

    def changed_miners(self) -> dict[Origin, LogTemplateMiner]:
        """The origins' own miners that mined lines since the last call (to persist them)."""
        mined, self._mined = self._mined, set()
        return {o: self._miners[o] for o in mined if o in self._miners}

    def origins(self) -> set[Origin]:
        """Origins with open windows."""
        return {o for o, levels in self._levels_by_origin.items() if any(levels.values())}

    def take(self, origin: Origin) -> LogCounts | None:
        """Remove the open windows of ``origin`` and return them as plain data (None: none)."""
        windows = self.peek(origin)
        self._levels_by_origin.pop(origin, None)
        self._templates_by_origin.pop(origin, None)
        self.lagging.stop(origin)
        return windows

    def peek(self, origin: Origin) -> LogCounts | None:
        """The open windows of ``origin`` as :meth:`take` returns them, left in place (the
        data shares lists with them: serialize it before the next :meth:`add_all`)."""
        levels = self._levels_by_origin.get(origin) or {}
        templates = self._templates_by_origin.get(origin) or {}
        levels = {bucket: seen for bucket, seen in levels.items() if seen}
        if not levels:
            return None
        names = self._names_by_origin.get(origin, self._names)
        by_text = {
            bucket: {(service, names.get(tid, "")): n for (service, tid), n in counts.items()}
            for bucket, counts in templates.items()
        }
        return levels, by_text

    def merge(self, origin: Origin, state: LogCounts) -> None:
        """Add windows from :meth:`take` (of this or another instance) to ``origin``'s.

        Level counts add as if their lines had been seen here; template counts join this
        miner's template of the same text (else they are dropped, see ``unmatched``). A
        window already emitted here is emitted again at the next drain with only this data.
        """
        levels, by_text = state
        all_levels, all_templates = self._tables(origin)
        for bucket, seen in levels.items():
            into = all_levels[bucket]
            for service, (errors, warnings) in seen.items():
                counts = into.get(service)
                if counts is None:
                    counts = into[service] = [0, 0]
                counts[0] += errors
                counts[1] += warnings
        if not by_text:
            return
        miner, names = self._miner_of(origin)
        ids = {text: tid for tid, text in miner.templates().items()}
        for bucket, counts_by_text in by_text.items():
            templates = all_templates[bucket]
            for (service, text), n in counts_by_text.items():
                tid = ids.get(text)
                if tid is None:
                    self.unmatched += n
                    continue
                names[tid] = text
                templates[(service, tid)] = templates.get((service, tid), 0) + n

    def drain(self, watermark: float | None = None, flush: bool = False) -> list[Observation]:
        """Observations of windows closed by ``watermark``, and new templates since last time."""
        out, self._new = self._new, []
        per_origin = {
            origin: [b for b, seen in table.items() if seen]
            for origin, table in self._levels_by_origin.items()
        }
        mark = self.watermark if watermark is None else watermark
        closing = self.lagging.closing(per_origin, mark, self.window_s, flush)
        if closing:
            last = closing[-1][0]
            self._closed_upto = max(last, self._closed_upto or last)
        w, error_rate, warn_rate = self.window_s, Signal.LOG_ERROR_RATE, Signal.LOG_WARN_RATE
        for bucket, origins in closing:
            end = (bucket + 1) * w
            for service, (errors, warnings) in self._pop_levels(bucket, origins).items():
                out += [
                    Observation(
                        f"{service}|log_error_rate", service, error_rate, errors / w, end, w
                    ),
                    Observation(
                        f"{service}|log_warn_rate", service, warn_rate, warnings / w, end, w
                    ),
                ]
            counts, names = self._pop_templates(bucket, origins)
            for (service, tid), n in counts.items():
                out.append(
                    Observation(
                        f"{service}|log_template_rate|{tid}",
                        service,
                        Signal.LOG_TEMPLATE_RATE,
                        n / w,
                        end,
                        w,
                        detail=names.get(tid, "")[:500],
                    )
                )
        return out

    def closed_upto(self, origin: Origin) -> int | None:
        """The last window closed for ``origin``'s lines (its own while it lags)."""
        return self.lagging.closed.get(origin, self._closed_upto)

    def _pop_levels(self, bucket: int, origins: set[Origin]) -> dict[str, list[int]]:
        """Window ``bucket``'s level counts, taken out of ``origins`` and added up."""
        parts = [
            t.pop(bucket) for o, t in self._levels_by_origin.items() if o in origins and bucket in t
        ]
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, list[int]] = {}
        for part in parts:
            for service, (errors, warnings) in part.items():
                counts = merged.setdefault(service, [0, 0])
                counts[0] += errors
                counts[1] += warnings
        return merged

    def _pop_templates(
        self, bucket: int, origins: set[Origin]
    ) -> tuple[dict[tuple[str, str], int], Mapping[str, str]]:
        """Window ``bucket``'s template counts, taken out of ``origins`` and added up, and
        the text of each template id (an origin's own miner's ids get the origin's prefix)."""
        own = self._names_by_origin
        parts = [
            (o, t.pop(bucket))
            for o, t in self._templates_by_origin.items()
            if o in origins and bucket in t
        ]
        if len(parts) == 1 and parts[0][0] not in own:
            return parts[0][1], self._names
        merged: dict[tuple[str, str], int] = {}
        texts: dict[str, str] = {}
        for origin, part in parts:
            origin_names = own.get(origin)
            if origin_names is None:
                for key, n in part.items():
                    merged[key] = merged.get(key, 0) + n
                continue
            prefix = template_prefix(origin)
            for (service, tid), n in part.items():
                key = (service, prefix + tid)
                merged[key] = merged.get(key, 0) + n
                texts[key[1]] = origin_names.get(tid, "")
        return merged, ChainMap(texts, self._names) if texts else self._names

    def __setstate__(self, state: dict[str, object]) -> None:
        """Read snapshots written before windows were kept per origin (one, None)."""
        if "_levels" in state:
            state["_levels_by_origin"] = {None: state.pop("_levels")}
            state["_templates_by_origin"] = {None: state.pop("_templates")}
        state.setdefault("unmatched", 0)
        state.setdefault("miner_per_origin", False)
        for name in ("_miners", "_names_by_origin"):
            state.setdefault(name, {})
        state.setdefault("_mined", set())
        state.setdefault("lagging", Lagging())  # snapshots written before origins lagged
        self.__dict__.update(state)
