"""Detector kinds by name, each with a pydantic model for its parameters.

Config picks the detector (``detect.detector`` and ``detect.detector_params``); this module
turns that pair into a fresh :class:`~correlator.detect.base.Detector` for one series.

>>> detector = build_detector("default", {"window": 500})
>>> type(detector).__name__, detector.params.window
('MetricDetector', 500)
>>> build_detector("nope", {})
Traceback (most recent call last):
...
correlator.errors.DetectorError: unknown detector kind 'nope'; known kinds: contextual, ...robust
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from correlator.config import DetectSettings
from correlator.detect.base import Detector
from correlator.detect.contextual import ContextualDetector, ContextualParams
from correlator.detect.metric_detector import MetricDetector, MetricDetectorParams
from correlator.detect.river_gaussian import RiverGaussianDetector, RiverGaussianParams
from correlator.detect.river_hst import RiverHstDetector, RiverHstParams
from correlator.detect.river_predictive import RiverPredictiveDetector, RiverPredictiveParams
from correlator.detect.robust import RobustDetector, RobustParams
from correlator.detect.series import SIGNAL_GROUPS
from correlator.errors import DetectorError
from correlator.model.observation import Signal

__all__ = [
    "DetectorKind",
    "build_detector",
    "detector_factory_for",
    "detector_kinds",
    "register",
]


@dataclass(frozen=True)
class DetectorKind:
    """A named detector: its parameter model and a constructor taking validated params."""

    name: str
    params: type[BaseModel]
    build: Callable[[Any], Detector]
    description: str


_KINDS: dict[str, DetectorKind] = {}


def register(kind: DetectorKind) -> None:
    """Add a detector kind; names are unique."""
    if kind.name in _KINDS:
        raise DetectorError(f"detector kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind


def detector_kinds() -> dict[str, DetectorKind]:
    """Every registered kind, by name."""
    return dict(_KINDS)


def build_detector(kind: str, params: Mapping[str, Any] | None = None) -> Detector:
    """A fresh detector of ``kind`` built from ``params`` (validated by the kind's model)."""
    spec = _KINDS.get(kind)
    if spec is None:
        known = ", ".join(sorted(_KINDS))
        raise DetectorError(f"unknown detector kind {kind!r}; known kinds: {known}")
    return spec.build(_validated(spec, params))


def _validated(spec: DetectorKind, params: Mapping[str, Any] | None) -> BaseModel:
    try:
        return spec.params.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise DetectorError(f"detector {spec.name!r}: invalid params: {exc}") from exc


for _name in ("default", "envelope"):
    register(
        DetectorKind(
            name=_name,
            params=MetricDetectorParams,
            build=MetricDetector,
            description="Break-out from the rolling envelope, with warm-up, cool-down "
            "and protection (the engine's default for metric series)",
        )
    )

register(
    DetectorKind(
        name="contextual",
        params=ContextualParams,
        build=ContextualDetector,
        description="Envelope break-out fused (max) with bin-transition novelty, the "
        "residual against one day earlier and a level shift; one cool-down that deeper "
        "records break through, scores damped by the series' alert count "
        "(NAB 70.21 standard / 60.14 low-FP / 75.25 low-FN)",
    )
)

register(
    DetectorKind(
        name="robust",
        params=RobustParams,
        build=RobustDetector,
        description="Robust z-score against the rolling median and MAD, with floors "
        "(the engine's default for span and log signals)",
    )
)

register(
    DetectorKind(
        name="river-hst",
        params=RiverHstParams,
        build=RiverHstDetector,
        description="River's HalfSpaceTrees over min-max scaled value and step "
        "(and time of day), calibrated by running quantiles of its scores",
    )
)

register(
    DetectorKind(
        name="river-gaussian",
        params=RiverGaussianParams,
        build=RiverGaussianDetector,
        description="River's GaussianScorer over a rolling window (tail surprisal), "
        "calibrated by running quantiles of its scores",
    )
)

register(
    DetectorKind(
        name="river-predictive",
        params=RiverPredictiveParams,
        build=RiverPredictiveDetector,
        description="River's PredictiveAnomalyDetection: a linear forecast over lags, "
        "squared miss over its dynamic threshold, calibrated by running quantiles",
    )
)


def detector_factory_for(settings: DetectSettings) -> Callable[[Signal], Detector]:
    """A factory building each new series' detector from its signal group's choice.

    Every configured choice is built once here, so a bad kind or parameter fails at start.
    """
    choices: dict[Signal, tuple[DetectorKind, BaseModel]] = {}
    for signal, group in SIGNAL_GROUPS.items():
        choice = settings.detectors.get(group)
        if choice is None:
            raise DetectorError(
                f"no detector configured for signal group {group!r}; "
                f"add detect.detectors.{group} (kind and params)"
            )
        build_detector(choice.kind, choice.params)
        spec = _KINDS[choice.kind]
        choices[signal] = (spec, _validated(spec, choice.params))

    def factory(signal: Signal) -> Detector:
        # One frozen params model per signal group, shared by its series (less per series).
        spec, params = choices[signal]
        return spec.build(params)

    return factory
