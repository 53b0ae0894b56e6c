"""Drain with one change: two different plain words never merge into a variable.

Stock Drain merges a line into a cluster when enough of its tokens match, so ``VM Started``
and ``VM Paused``, or ``Link ok`` and ``Link error``, end up as one template ``VM <*>``.
Values that vary in logs almost always carry a digit, a mask or punctuation (ids, numbers,
addresses, paths), while two different plain words in the same position usually mean two
different messages. So a line whose token differs from the cluster's in a position where
both are plain words (letters only, maybe with trailing punctuation) does not join it.
Everything else is Drain as drain3 implements it.

>>> is_plain_word("Started"), is_plain_word("error,"), is_plain_word("ee0"), is_plain_word("<IP>")
(True, True, False, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from drain3.drain import Drain

__all__ = ["WordAwareDrain", "different_text", "is_plain_word"]

_PLAIN_WORD: Final = re.compile(r"[\"'(\[]?[A-Za-z]+[\"')\]]?[.,:;!?]?")


_KEY: Final = re.compile(r"([A-Za-z_][\w.\-]*)=")
# Plain words that are values, not message text: booleans and units of a preceding number.
_VALUE_WORDS: Final = frozenset(
    {"true", "false", "null", "none", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib"}
)


@lru_cache(maxsize=1 << 16)
def is_plain_word(token: str) -> bool:
    """True for a token of letters only, maybe quoted or bracketed, maybe with a trailing
    punctuation mark, that is not a value word such as ``true`` or ``KB``."""
    match = _PLAIN_WORD.fullmatch(token)
    return match is not None and token.strip("\"'()[].,:;!?").lower() not in _VALUE_WORDS


def different_text(template_token: str, token: str) -> bool:
    """True when two tokens are surely different message text, not two values of a variable:
    two different plain words, or two ``key=value`` tokens with different keys.

    >>> different_text("Started", "Paused"), different_text("size", "size")
    (True, False)
    >>> different_text("flags=0x1", "flags=0x2"), different_text("uid=0", "pid=0")
    (False, True)
    >>> different_text("true", "false"), different_text("<*>", "Paused")
    (False, False)
    """
    if template_token == token or template_token == "<*>":
        return False
    if is_plain_word(template_token) and is_plain_word(token):
        return True
    template_key, key = _KEY.match(template_token), _KEY.match(token)
    return template_key is not None and key is not None and template_key[1] != key[1]


class WordAwareDrain(Drain):  # type: ignore[misc]  # drain3 ships no type hints
    """drain3's Drain whose similarity is zero when two plain words disagree."""

    @staticmethod
    def has_numbers(s: str) -> bool:
        """Route tokens with a digit or a mask (``<IP>,<IP>``) to the wildcard tree node."""
        return "<" in s or any(char.isdigit() for char in s)

    def get_seq_distance(
        self, seq1: Sequence[str], seq2: Sequence[str], include_params: bool
    ) -> tuple[float, int]:
        """Drain's similarity of template ``seq1`` and message ``seq2``, word-aware."""
        for template_token, token in zip(seq1, seq2, strict=True):
            if different_text(template_token, token):
                return 0.0, 0
        sim, param_count = super().get_seq_distance(seq1, seq2, include_params)
        return float(sim), int(param_count)
