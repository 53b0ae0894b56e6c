"""DetectStage: scores each observation with its series' model and turns scores into alerts.

Prequential: a value is scored before the model learns it. A series may alert only after
``warmup`` observations. An error ratio over a known number of requests alerts only when its
failures are unlikely by chance (:mod:`correlator.detect.significance`, ``error_alpha``).
Hysteresis: an alert fires at ``threshold`` and clears after ``clear_after`` observations
below ``clear_threshold``, so one fault does not flap.

Bounded memory: at most ``max_series`` states are held (least recently seen evicted first),
and a series silent for ``idle_ttl_s`` of event time is evicted too. Evicted states are
returned in ``Detected.evicted``; the engine checkpoints them, and restores them from the
checkpoint when the series reports again, so eviction frees memory without forgetting.

Bytes per series (one ``SeriesState``, measured by ``tests/detect/test_memory.py`` after
5,000 observations of a noisy daily series at a 5-minute interval; the pickle is the
checkpoint in Redis, "live" the Python objects tracemalloc counts; NAB column: mean / max
pickled detector after each of the 58 NAB files):

=================  ==========  =========  ===============  =================================
detector kind      pickle (B)  live (B)   NAB pickle (B)   what the state holds
=================  ==========  =========  ===============  =================================
envelope/default   1,162       6,248      747 / 1,048      two monotonic queues
contextual         4,495       18,092     3,730 / 4,868    two envelopes as above, one day
                                                           of float32 values (at most
                                                           ``max_period``), bin transitions
                                                           seen, level-shift window
robust             2,373       8,536      n/a              the last ``window`` (90) values
=================  ==========  =========  ===============  =================================

At the default cap of 200,000 series that is at most about 3.6 GB live for contextual metric
series (1.3 GB for envelope); lower ``max_series`` or ``idle_ttl_s`` to fit the host.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from correlator.config import DetectSettings
from correlator.detect.base import Detector
from correlator.detect.series import UPWARD_ONLY, SeriesState
from correlator.detect.significance import significant_errors
from correlator.model.alert import WATCH_LABEL, Alert, AlertStatus, Severity, fingerprint_of
from correlator.model.observation import Observation, Signal

__all__ = ["DetectStage", "Detected"]

log = logging.getLogger(__name__)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass
class Detected:
    alerts: list[Alert] = field(default_factory=list)
    anomalies: int = 0
    evicted: dict[str, SeriesState] = field(default_factory=dict)


class DetectStage:
    """One model per series, created on first sight (or restored from a checkpoint).

    ``factory(signal)`` builds the model for a new series of that signal.
    """

    def __init__(
        self,
        settings: DetectSettings,
        factory: Callable[[Signal], Detector],
        fingerprint_labels: Sequence[str] = ("service", "entity", "signal", "series"),
    ) -> None:
        self.settings = settings
        self._factory = factory
        self._labels = tuple(fingerprint_labels)
        self.series: OrderedDict[str, SeriesState] = OrderedDict()
        self.dirty: set[str] = set()
        self.latest_ts = 0.0  # the latest event time seen, for the idle TTL

    def restore(self, states: dict[str, SeriesState]) -> None:
        """Adopt checkpointed states (for series this process has not seen yet)."""
        for key, state in states.items():
            self.series.setdefault(key, state)

    def unknown(self, observations: Iterable[Observation]) -> list[str]:
        """Series keys in ``observations`` that have no state in memory.

        A new log template is judged against its service's error-rate series, so that
        series is asked for too (the judgement must not depend on what happens to be loaded).
        """
        keys = {
            f"{o.service}|log_error_rate" if o.signal is Signal.LOG_NEW_TEMPLATE else o.series
            for o in observations
        }
        return sorted(k for k in keys if k not in self.series)

    def process(self, observations: Sequence[Observation]) -> Detected:
        out = Detected()
        for obs in observations:
            if obs.signal is Signal.LOG_NEW_TEMPLATE:
                self._new_template(obs, out)
                continue
            state = self.series.get(obs.series)
            if state is None:
                state = self.series[obs.series] = SeriesState(self._factory(obs.signal))
            else:
                self.series.move_to_end(obs.series)
            self._score(obs, state, out)
            self.dirty.add(obs.series)
            if obs.ts > self.latest_ts:
                self.latest_ts = obs.ts
        self._evict(out)
        return out

    def _score(self, obs: Observation, state: SeriesState, out: Detected) -> None:
        cfg = self.settings
        score = state.detector.score_one(obs.value, obs.ts)
        expected = state.expected
        rising = obs.value > expected + state.spread
        if score > cfg.clear_threshold and not self._admissible(obs, expected, rising):
            score = cfg.clear_threshold
        anomalous = state.seen >= cfg.warmup and score >= cfg.threshold
        if (
            cfg.watch_threshold is not None
            and not anomalous
            and not state.alerting
            and state.seen >= cfg.warmup
        ):
            self._watch(obs, state, rising, out)
        if anomalous:
            out.anomalies += 1
            state.hits += 1
            state.peak_score = max(state.peak_score, score)
        if anomalous and not state.alerting:
            state.alerting, state.calm, state.alert_started_at = True, 0, obs.ts
            out.alerts.append(self._alert(obs, state, score, AlertStatus.FIRING))
        elif state.alerting:
            state.calm = 0 if score >= cfg.clear_threshold else state.calm + 1
            if state.calm >= cfg.clear_after:
                out.alerts.append(self._alert(obs, state, state.peak_score, AlertStatus.RESOLVED))
                state.alerting, state.hits, state.peak_score = False, 0, 0.0
        # Anomalies do not teach the model: while alerting, the baseline stays put.
        if not state.alerting:
            state.detector.learn_one(obs.value, obs.ts)
            state.track(obs.value)
        else:
            state.seen += 1
        state.last_ts = obs.ts

    def _watch(self, obs: Observation, state: SeriesState, rising: bool, out: Detected) -> None:
        """A watch alert for a reading that scored ``watch_threshold`` on its own."""
        bar = self.settings.watch_threshold
        raw = getattr(state.detector, "unconfirmed", None)
        if bar is None or not isinstance(raw, float) or raw < bar:
            return
        if not self._admissible(obs, state.expected, rising):
            return
        alert = self._alert(obs, state, raw, AlertStatus.FIRING)
        at = _at(obs.ts)
        out.alerts.append(
            alert.model_copy(
                update={
                    "severity": Severity.INFO,
                    "starts_at": at,
                    "ends_at": at + timedelta(seconds=obs.window_s or self.settings.window_s),
                    "count": 1,
                    "labels": {**alert.labels, WATCH_LABEL: "true"},
                }
            )
        )

    def _admissible(self, obs: Observation, expected: float, rising: bool) -> bool:
        """Whether the reading may score above ``clear_threshold`` at all.

        Not a drop of a signal for which only a rise is a symptom, nor an error ratio whose
        failures are likely by chance (``error_alpha``: a few failures of a few requests).
        """
        if obs.signal in UPWARD_ONLY and not rising:
            return False
        cfg = self.settings
        if obs.signal is not Signal.ERROR_RATIO or not obs.samples or cfg.error_alpha is None:
            return True
        return significant_errors(
            obs.value, obs.samples, expected, cfg.error_floor, cfg.error_alpha
        )

    def _alert(
        self, obs: Observation, state: SeriesState, score: float, status: AlertStatus
    ) -> Alert:
        labels = {
            "service": obs.service,
            "entity": obs.entity,
            "signal": obs.signal.value,
            "series": obs.series,
        }
        started = _at(state.alert_started_at)
        severity = Severity.CRITICAL if score >= 0.99 else Severity.WARNING
        what = obs.detail or obs.signal.value
        return Alert(
            fingerprint=fingerprint_of({k: labels[k] for k in self._labels if k in labels}),
            service=obs.service,
            entity=obs.entity,
            signal=obs.signal,
            status=status,
            severity=severity,
            summary=f"{obs.entity} {what} {obs.value:.4g} (expected {state.expected:.4g})",
            observed=obs.value,
            expected=state.expected,
            score=score,
            series=obs.series,
            window_s=obs.window_s,
            samples=obs.samples or None,
            starts_at=started,
            last_seen_at=_at(obs.ts),
            ends_at=_at(obs.ts) if status is AlertStatus.RESOLVED else None,
            count=max(1, state.hits),
            labels=labels,
        )

    def _new_template(self, obs: Observation, out: Detected) -> None:
        """A template never seen before, from a service whose logs are past warm-up."""
        baseline = self.series.get(f"{obs.service}|log_error_rate")
        if baseline is None or baseline.seen < self.settings.warmup:
            return
        labels = {"service": obs.service, "entity": obs.entity, "signal": obs.signal.value}
        labels["series"] = f"{obs.series}|{obs.detail}"
        at = _at(obs.ts)
        out.anomalies += 1
        out.alerts.append(
            Alert(
                fingerprint=fingerprint_of({k: labels[k] for k in self._labels if k in labels}),
                service=obs.service,
                entity=obs.entity,
                signal=obs.signal,
                severity=Severity.INFO,
                summary=f"{obs.service} logged a new message shape: {obs.detail[:160]}",
                observed=obs.value,  # lines of the new shape in the batch that found it
                expected=0.0,  # never seen before
                score=self.settings.threshold,
                series=labels["series"],
                window_s=self.settings.window_s,
                starts_at=at,
                last_seen_at=at,
                ends_at=at + timedelta(seconds=self.settings.new_template_alert_s),
                labels=labels,
            )
        )

    def _evict(self, out: Detected) -> None:
        """Drop the least recently seen series over the cap, and those idle past the TTL.

        The dict is in order of last sight, so the idle ones are at its front.
        """
        series = self.series
        while len(series) > self.settings.max_series:
            key, state = series.popitem(last=False)
            self.dirty.discard(key)
            out.evicted[key] = state
        stale_before = self.latest_ts - self.settings.idle_ttl_s
        while series:
            key, state = next(iter(series.items()))
            if state.last_ts >= stale_before:
                break
            del series[key]
            self.dirty.discard(key)
            out.evicted[key] = state
