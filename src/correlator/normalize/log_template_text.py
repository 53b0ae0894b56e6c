"""Tidy a mined template's text into the ``<*>`` convention of corrected Loghub labels.

Drain leaves parts of variables in a template (``blk_<*>``, ``<*>.<*>``, ``true``). Khan et
al. (ICSE'22) describe how a template should mark variables; this module applies those
generic rules to the text only, so the template id and grouping are untouched:

* whitespace runs become one space;
* a path-like token (``/a/b``) is one variable;
* ``true``/``false``/``null`` and digit-only pieces are variables;
* a piece that glues a word to a variable (``blk_<*>``) is one variable;
* ``<*>.<*>`` and ``<*><*>`` collapse into one ``<*>``.

>>> tidy_template("Received  block blk_<*> of size 67108864 from /<*>")
'Received block <*> of size <*> from <*>'
>>> tidy_template("time: <*>.<*> ok=true user=root")
'time: <*> ok=<*> user=root'
>>> tidy_template("node-<*> CPU#<*> Rect(<*>, <*>)")
'node-<*> CPU#<*> Rect(<*>, <*>)'
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PARAM", "tidy_template"]

PARAM: Final = "<*>"
_VALUE_WORDS: Final = frozenset({"true", "false", "null"})
_PATH_SPLIT: Final = re.compile(r"""(\s|,|!|;|:|=|\||"|'|\[|\]|\(|\)|\{|\})""")
_TOKEN_SPLIT: Final = re.compile(r"""(\s|,|!|;|:|=|\||"|'|\[|\]|\(|\)|\{|\}|\.|-|\+|@|#|\$|%|&)""")
_PATH_LIKE: Final = re.compile(r"(?:/[^/]+)+")
_DIGITS: Final = re.compile(r"\d+")
_DOTTED: Final = re.compile(r"<\*>(?:\.<\*>)+")
_REPEATED: Final = re.compile(r"(?:<\*>){2,}")


def tidy_template(template: str) -> str:
    """Mark variables in ``template`` the way corrected Loghub templates do."""
    text = " ".join(template.split())
    text = "".join(
        PARAM if _PATH_LIKE.fullmatch(piece) else piece for piece in _PATH_SPLIT.split(text)
    )
    text = "".join(_tidy_piece(piece) for piece in _TOKEN_SPLIT.split(text))
    previous = None
    while previous != text:
        previous = text
        text = _REPEATED.sub(PARAM, _DOTTED.sub(PARAM, text))
    return text


def _tidy_piece(piece: str) -> str:
    if piece in _VALUE_WORDS or _DIGITS.fullmatch(piece):
        return PARAM
    if PARAM in piece and piece != PARAM:
        return PARAM
    return piece
