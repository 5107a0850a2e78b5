"""The terminal: human output that never fails on a character the terminal cannot encode.

Only the standard library: ``meshsim --help`` loads this and nothing heavier.
"""

from __future__ import annotations

import codecs
import io
import sys
import unicodedata
from typing import TextIO

__all__ = ["ascii_safe_streams"]

_ASCII_FALLBACK = {
    "✗": "x",
    "✓": "v",
    "✔": "v",
    "—": "-",
    "–": "-",
    "…": "...",
    "µ": "u",
    "×": "x",
    "→": "->",
    "←": "<-",
    "≤": "<=",
    "≥": ">=",
    "±": "+-",
    "•": "*",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
}
_HANDLER = "meshsim-ascii"


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: accents dropped (é -> e), common symbols spelled out, the rest '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        if ch in _ASCII_FALLBACK:
            out.append(_ASCII_FALLBACK[ch])
            continue
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
        out.append(plain or "?")
    return "".join(out), exc.end


def _can_encode_everything(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030")
    except LookupError:
        return False


def ascii_safe_streams() -> None:
    """Never fail on a character the terminal cannot encode (``LANG=C``, an ASCII-only console).

    On a terminal, human output degrades to ASCII-safe text: characters the encoding cannot
    hold are written as their closest ASCII (an accent dropped, a check mark as ``v``).
    Redirected to a file or a pipe, standard output and error become UTF-8 instead, so data
    (imported YAML, names with accents) reaches the file unchanged. Files meshsim writes are
    UTF-8 whatever the terminal.
    """
    try:
        codecs.lookup_error(_HANDLER)
    except LookupError:
        codecs.register_error(_HANDLER, _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not _can_encode_everything(stream):
            try:
                if stream.isatty():
                    stream.reconfigure(errors=_HANDLER)
                else:
                    stream.reconfigure(encoding="utf-8")
            except (ValueError, OSError):  # a closed or detached stream: nothing to print to
                continue
