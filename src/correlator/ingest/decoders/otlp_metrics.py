"""OTLP metric data points to :class:`MetricPoint` events.

One metric can give several series; names are the metric name plus a suffix:

=====================  ===========================================================
gauge, sum             one point per data point, named as the metric
histogram              ``<name>.count``, ``<name>.sum`` (if set), and estimates
(explicit or           ``<name>.p50`` and ``<name>.p99`` (if the count is not 0)
exponential)
summary                ``<name>.count``, ``<name>.sum`` and one ``<name>.p<q>`` per
                       quantile (``p50``, ``p99``, ``p99_9``; see :func:`quantile_suffix`)
=====================  ===========================================================

Labels are the data point's attributes; ``service`` is the resource's ``service.name``;
``observed_at`` is ``time_unix_nano`` (required by OTLP: 0 is rejected). Values are
reported as sent: a cumulative sum or histogram is the total since its start time,
not a rate (turning it into one is the normalizer's job).

Skipped, not rejected: data points flagged "no recorded value" (Prometheus staleness
markers), values that are NaN or infinite (the model allows only finite values), and
metrics with no data set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from correlator.errors import ValidationFailedError
from correlator.ingest.decoders.base import construct_trusted
from correlator.ingest.decoders.otlp_common import attributes_to_dict, datetime_from_ns
from correlator.model.telemetry import MetricPoint

__all__ = ["estimate_quantile", "metric_points", "quantile_suffix"]

_NO_RECORDED_VALUE = 1
HISTOGRAM_QUANTILES = (0.5, 0.99)

Bucket = tuple[float, float, int]
"""A histogram bucket: lower bound, upper bound, count."""


def metric_points(metric: Any, service: str, decoder: str, where: str) -> Iterator[MetricPoint]:
    """Yield the points of one OTLP ``Metric``; ``where`` is its path, for errors."""
    if not metric.name:
        raise ValidationFailedError(f"{decoder}: {where}.name is empty")
    data = metric.WhichOneof("data")
    if data in ("gauge", "sum"):
        yield from _number_points(metric, getattr(metric, data), service, decoder, where)
    elif data == "histogram":
        yield from _histogram_points(metric, service, decoder, where)
    elif data == "exponential_histogram":
        yield from _exponential_points(metric, service, decoder, where)
    elif data == "summary":
        yield from _summary_points(metric, service, decoder, where)


def _number_points(
    metric: Any, data: Any, service: str, decoder: str, where: str
) -> Iterator[MetricPoint]:
    name = metric.name
    for i, point in enumerate(data.data_points):
        if point.flags & _NO_RECORDED_VALUE:
            continue
        which = point.WhichOneof("value")
        ns: int = point.time_unix_nano
        if which is None or not ns:
            at = f"{where}.{_kind(metric)}.data_points[{i}]"
            if which is None:
                raise ValidationFailedError(f"{decoder}: {at}: neither as_double nor as_int is set")
            raise ValidationFailedError(f"{decoder}: {at}.time_unix_nano is 0 (unset)")
        value = float(point.as_double if which == "as_double" else point.as_int)
        if value - value != 0.0:  # NaN or infinite: skipped, as the model allows neither
            continue
        pairs = point.attributes
        yield construct_trusted(
            MetricPoint,
            {
                "kind": "metric",
                "name": name,
                "service": service,
                "value": value,
                "observed_at": datetime_from_ns(ns),
                "labels": attributes_to_dict(pairs) if pairs else {},
            },
        )


def _histogram_points(metric: Any, service: str, decoder: str, where: str) -> Iterator[MetricPoint]:
    for i, point in enumerate(metric.histogram.data_points):
        if point.flags & _NO_RECORDED_VALUE:
            continue
        at = f"{where}.histogram.data_points[{i}]"
        bounds = list(point.explicit_bounds)
        counts = list(point.bucket_counts)
        if counts and len(counts) != len(bounds) + 1:
            raise ValidationFailedError(
                f"{decoder}: {at}: {len(counts)} bucket_counts for {len(bounds)} "
                "explicit_bounds (want one more count than bounds)"
            )
        edges = [-math.inf, *bounds, math.inf]
        buckets = [(edges[k], edges[k + 1], count) for k, count in enumerate(counts)]
        yield from _distribution(metric.name, service, point, buckets, decoder, at)


def _exponential_points(
    metric: Any, service: str, decoder: str, where: str
) -> Iterator[MetricPoint]:
    for i, point in enumerate(metric.exponential_histogram.data_points):
        if point.flags & _NO_RECORDED_VALUE:
            continue
        at = f"{where}.exponential_histogram.data_points[{i}]"
        yield from _distribution(
            metric.name, service, point, exponential_buckets(point), decoder, at
        )


def exponential_buckets(point: Any) -> list[Bucket]:
    """An exponential histogram point's buckets in ascending order (negative, zero, positive).

    Bucket ``index`` covers ``(base**index, base**(index + 1)]`` with
    ``base = 2**(2**-scale)``; negative buckets mirror that.
    """
    base = 2.0 ** (2.0**-point.scale)
    negative = point.negative
    buckets: list[Bucket] = []
    for k in range(len(negative.bucket_counts) - 1, -1, -1):
        index = negative.offset + k
        buckets.append((-_power(base, index + 1), -_power(base, index), negative.bucket_counts[k]))
    if point.zero_count:
        threshold = point.zero_threshold
        buckets.append((-threshold, threshold, point.zero_count))
    positive = point.positive
    for k, count in enumerate(positive.bucket_counts):
        index = positive.offset + k
        buckets.append((_power(base, index), _power(base, index + 1), count))
    return buckets


def _power(base: float, exponent: int) -> float:
    try:
        return base**exponent
    except OverflowError:
        return math.inf if exponent > 0 else 0.0


def _distribution(
    name: str, service: str, point: Any, buckets: list[Bucket], decoder: str, at: str
) -> Iterator[MetricPoint]:
    ns = _time(point, decoder, at)
    labels = attributes_to_dict(point.attributes)
    lowest = point.min if point.HasField("min") else None
    highest = point.max if point.HasField("max") else None
    values: list[tuple[str, float]] = [(f"{name}.count", float(point.count))]
    if point.HasField("sum"):
        values.append((f"{name}.sum", point.sum))
    if point.count and buckets:
        for q in HISTOGRAM_QUANTILES:
            estimate = estimate_quantile(q, buckets, lowest, highest)
            if estimate is not None:
                values.append((f"{name}.{quantile_suffix(q)}", estimate))
    for series, value in values:
        point_ = _point(series, service, value, ns, labels)
        if point_ is not None:
            yield point_


def _summary_points(metric: Any, service: str, decoder: str, where: str) -> Iterator[MetricPoint]:
    name = metric.name
    for i, point in enumerate(metric.summary.data_points):
        if point.flags & _NO_RECORDED_VALUE:
            continue
        ns = _time(point, decoder, f"{where}.summary.data_points[{i}]")
        labels = attributes_to_dict(point.attributes)
        values = [(f"{name}.count", float(point.count)), (f"{name}.sum", point.sum)]
        values += [
            (f"{name}.{quantile_suffix(q.quantile)}", q.value) for q in point.quantile_values
        ]
        for series, value in values:
            point_ = _point(series, service, value, ns, labels)
            if point_ is not None:
                yield point_


def estimate_quantile(
    q: float, buckets: Sequence[Bucket], lowest: float | None = None, highest: float | None = None
) -> float | None:
    """Estimate quantile ``q`` from histogram buckets, as Prometheus' ``histogram_quantile``.

    Finds the bucket holding rank ``q * total`` and interpolates linearly inside it,
    assuming its observations are spread evenly. The open first bucket starts at the
    point's ``min`` if known, else at 0 (or at its upper bound if that is not positive);
    the open last bucket ends at ``max`` if known, else the estimate is its lower bound.
    The result is clamped to ``[min, max]`` when they are known. None if every count is 0.

    >>> buckets = [(-math.inf, 10.0, 2), (10.0, 20.0, 6), (20.0, math.inf, 2)]
    >>> estimate_quantile(0.5, buckets)
    15.0
    >>> estimate_quantile(0.99, buckets), estimate_quantile(0.99, buckets, highest=40.0)
    (20.0, 39.0)
    >>> estimate_quantile(0.1, buckets)
    5.0
    >>> estimate_quantile(0.5, [(0.0, 1.0, 0)]) is None
    True
    """
    total = sum(count for _, _, count in buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for lower, upper, count in buckets:
        if count and seen + count >= rank:
            if lower == -math.inf:
                lower = lowest if lowest is not None else (0.0 if upper > 0 else upper)
            if upper == math.inf:
                upper = highest if highest is not None else lower
            estimate = lower + (upper - lower) * max(rank - seen, 0.0) / count
            if lowest is not None:
                estimate = max(estimate, lowest)
            if highest is not None:
                estimate = min(estimate, highest)
            return estimate
        seen += count
    return None


def quantile_suffix(q: float) -> str:
    """The series suffix of quantile ``q``: its percentile, ``_`` for a decimal point.

    >>> [quantile_suffix(q) for q in (0.5, 0.99, 0.999, 0.0, 1.0)]
    ['p50', 'p99', 'p99_9', 'p0', 'p100']
    """
    percent = f"{q * 100:.6f}".rstrip("0").rstrip(".")
    return "p" + percent.replace(".", "_")


def _time(point: Any, decoder: str, where: str) -> int:
    ns: int = point.time_unix_nano
    if not ns:
        raise ValidationFailedError(f"{decoder}: {where}.time_unix_nano is 0 (unset)")
    return ns


def _point(
    name: str, service: str, value: float, ns: int, labels: dict[str, str]
) -> MetricPoint | None:
    if not math.isfinite(value):
        return None
    return construct_trusted(
        MetricPoint,
        {
            "kind": "metric",
            "name": name,
            "service": service,
            "value": value,
            "observed_at": datetime_from_ns(ns),
            "labels": labels,
        },
    )


def _kind(metric: Any) -> str:
    return str(metric.WhichOneof("data"))
