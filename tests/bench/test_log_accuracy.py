"""Grouping and parsing accuracy on hand-made cases that tell right from nearly right."""

from __future__ import annotations

import pytest

from correlator.bench.log_accuracy import grouping_accuracy, parsing_accuracy


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        (["A", "A", "B", "B"], ["x", "x", "y", "y"], 1.0),
        # one message of A split off: all three A messages are wrong, B is right
        (["A", "A", "A", "B"], ["x", "x", "z", "y"], 0.25),
        # A and B merged into one group: all four are wrong
        (["A", "A", "B", "B"], ["x", "x", "x", "x"], 0.0),
        # every message its own group: only singleton true groups are right
        (["A", "A", "B"], ["1", "2", "3"], 1 / 3),
        # the same predicted id reused for two true groups is a merge, not two hits
        (["A", "B", "A", "B"], ["x", "x", "x", "x"], 0.0),
        # unlabelled lines leave the denominator too
        (["A", "", "A", "B"], ["x", "x", "x", "y"], 1.0),
        (["", ""], ["x", "y"], 0.0),
    ],
    ids=["perfect", "split", "merge", "all-singletons", "merge-interleaved", "unlabelled", "none"],
)
def test_grouping_accuracy(truth: list[str], predicted: list[str], expected: float) -> None:
    assert grouping_accuracy(truth, predicted) == pytest.approx(expected)


def test_grouping_accuracy_ignores_what_the_ids_are() -> None:
    truth = ["open <*>"] * 3 + ["close <*>"] * 2
    assert grouping_accuracy(truth, [7, 7, 7, 8, 8]) == grouping_accuracy(truth, list("aaabb"))


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        (["open <*>", "close <*>"], ["open <*>", "close <*>"], 1.0),
        (["open <*>", "close <*>"], ["open <*>", "close file"], 0.5),
        (["open <*> <*>"], ["open <*>"], 0.0),
        (["open <*>"], ["open  <*>"], 0.0),
        (["open <*>", ""], ["open <*>", "anything"], 1.0),
    ],
    ids=["exact", "constant-left-in", "merged-variables", "whitespace-counts", "unlabelled"],
)
def test_parsing_accuracy(truth: list[str], predicted: list[str], expected: float) -> None:
    assert parsing_accuracy(truth, predicted) == pytest.approx(expected)


@pytest.mark.parametrize("score", [grouping_accuracy, parsing_accuracy])
def test_lengths_must_match(score: object) -> None:
    with pytest.raises(ValueError, match="same lines"):
        score(["a", "b"], ["a"])  # type: ignore[operator]
