"""Accuracy of a log template miner against Loghub ground truth.

Pure functions, no I/O. The definitions follow ``REFERENCE.md`` of the Loghub-2k copy
(section 3), which matches logpai's ``logparser`` and Loghub-2.0 evaluators:

* **Grouping accuracy (GA)**: a predicted group counts only if it holds exactly the same
  messages as one ground-truth group; GA is the share of messages in such groups.
* **Parsing accuracy (PA)**: the share of messages whose predicted template string equals
  the ground-truth template string exactly.

Messages whose ground-truth template is empty are left out of both numerator and
denominator (``REFERENCE.md``: "lines whose ground-truth template is empty are ignored").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

__all__ = ["grouping_accuracy", "labelled_indices", "parsing_accuracy"]


def labelled_indices(truth_templates: Sequence[str]) -> list[int]:
    """Indices of the messages that have a non-empty ground-truth template.

    >>> labelled_indices(["a <*>", "", "  ", "b"])
    [0, 3]
    """
    return [i for i, template in enumerate(truth_templates) if template.strip()]


def grouping_accuracy(truth: Sequence[str], predicted: Sequence[Hashable]) -> float:
    """Share of messages whose predicted group is exactly one ground-truth group.

    ``truth[i]`` is the ground-truth group key of message ``i`` (its template or event id);
    an empty string means the message has no label and is ignored. ``predicted[i]`` is the
    parser's group id for the same message.

    A perfect grouping scores 1.0, whatever the ids look like:

    >>> grouping_accuracy(["A", "A", "B"], [7, 7, 9])
    1.0

    Splitting a true group makes all of its messages wrong, not just the split-off one:

    >>> grouping_accuracy(["A", "A", "A", "B"], [1, 1, 2, 3])
    0.25

    Merging two true groups makes all of their messages wrong:

    >>> grouping_accuracy(["A", "A", "B", "C"], [1, 1, 1, 2])
    0.25

    Unlabelled messages are dropped before the groups are compared:

    >>> grouping_accuracy(["A", "", "A"], [1, 1, 1])
    1.0
    """
    _check_lengths(truth, predicted)
    kept = labelled_indices(truth)
    if not kept:
        return 0.0
    predicted_members: dict[Hashable, list[int]] = defaultdict(list)
    truth_sizes: Counter[str] = Counter()
    for i in kept:
        predicted_members[predicted[i]].append(i)
        truth_sizes[truth[i]] += 1
    correct = 0
    for members in predicted_members.values():
        truth_keys = {truth[i] for i in members}
        if len(truth_keys) == 1 and truth_sizes[truth[members[0]]] == len(members):
            correct += len(members)
    return correct / len(kept)


def parsing_accuracy(truth_templates: Sequence[str], predicted_templates: Sequence[str]) -> float:
    """Share of messages whose predicted template equals the ground truth exactly.

    >>> parsing_accuracy(["open <*>", "close <*>"], ["open <*>", "close file"])
    0.5

    Whitespace inside a template matters; only an empty ground truth is skipped:

    >>> parsing_accuracy(["a  <*>", "", "b"], ["a <*>", "anything", "b"])
    0.5
    """
    _check_lengths(truth_templates, predicted_templates)
    kept = labelled_indices(truth_templates)
    if not kept:
        return 0.0
    correct = sum(1 for i in kept if predicted_templates[i] == truth_templates[i])
    return correct / len(kept)


def _check_lengths(truth: Sequence[object], predicted: Sequence[object]) -> None:
    if len(truth) != len(predicted):
        raise ValueError(
            f"ground truth has {len(truth)} messages but the prediction has {len(predicted)}; "
            "score the same lines in the same order"
        )
