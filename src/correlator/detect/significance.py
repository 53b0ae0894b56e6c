"""Whether an error ratio read from a known number of requests is more than chance.

An error ratio over a handful of requests swings wildly: one failure in 14 is 7 %, far
above a usual 0.1 %, yet a service failing at its usual rate does that about once in 70
windows. The robust detector sees only the ratio, so this check asks the count behind it:
under the series' usual error ratio ``p`` (never below ``floor``), how likely are at least
``k`` failures in ``n`` requests? The binomial upper tail. Only when that is at most
``alpha`` may the ratio alert.

>>> significant_errors(1 / 14, 14, usual=0.0, floor=0.001, alpha=0.001)
False
>>> significant_errors(21 / 1013, 1013, usual=0.0, floor=0.001, alpha=0.001)
True
"""

from __future__ import annotations

import math

__all__ = ["binomial_tail", "significant_errors"]


def binomial_tail(k: int, n: int, p: float, stop_above: float = 1.0) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space from k up.

    The sum stops once it exceeds ``stop_above`` (the answer is then only known to be
    larger).

    >>> round(binomial_tail(1, 14, 0.001), 4), binomial_tail(0, 5, 0.3), binomial_tail(6, 5, 0.3)
    (0.0139, 1.0, 0.0)
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        term = math.exp(
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )
        total += term
        if total > stop_above:
            break
        if i > n * p and term < total * 1e-12:
            break  # past the mode the terms only shrink
    return min(total, 1.0)


def significant_errors(
    ratio: float, samples: int, usual: float, floor: float, alpha: float
) -> bool:
    """Whether ``ratio`` of ``samples`` requests failing is unlikely (<= ``alpha``) by chance.

    ``usual`` is the series' normal error ratio, taken as at least ``floor``.
    """
    failures = round(ratio * samples)
    p = max(usual, floor)
    if failures <= samples * p:
        return False  # at or below the usual rate: the tail is about a half or more
    return binomial_tail(failures, samples, p, stop_above=alpha) <= alpha
