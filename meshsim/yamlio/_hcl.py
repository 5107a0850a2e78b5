"""A small HCL reader for Consul config entries, keeping the line of every value.

Consul writes config entries in HCL1 style, where a nested block may sit inside a
list of objects (``Routes = [{ Match { HTTP { PathPrefix = "/" } } }]``); the
python-hcl2 package reads HCL2 only, drops line numbers and keeps quotes on
strings, so this module reads the subset Consul uses instead:

- ``key = value`` or ``key: value`` attributes (commas between them optional);
- ``key { ... }`` and ``key "label" { ... }`` blocks (a repeated block becomes a list);
- strings with escapes, heredocs (``<<EOF`` and ``<<-EOF``), numbers, ``true``/``false``/``null``,
  lists and objects; comments ``#``, ``//`` and ``/* */``.

Interpolations (``${...}``) stay as literal text: nothing is evaluated.
"""

from __future__ import annotations

import re
from typing import Any

from meshsim.errors import MeshsimInputError
from meshsim.yamlio._tree import LineList, LineMap

__all__ = ["read_hcl"]

#: Deepest nesting of blocks, objects and lists (as for YAML and JSON).
MAX_DEPTH = 100
#: Longest number accepted (Python will not read longer digit strings as an int).
MAX_NUMBER_CHARS = 4300

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*|//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<heredoc><<-?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)[ \t]*\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-.]*)
  | (?P<punct>[{}\[\],=:])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/"}


class _Tok:
    __slots__ = ("kind", "line", "value")

    def __init__(self, kind: str, value: Any, line: int) -> None:
        self.kind, self.value, self.line = kind, value, line


def _unescape(raw: str, file: str, line: int) -> str:
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
            out.append(chr(int(raw[i + 2 : i + 6], 16)))
            i += 6
        else:
            raise MeshsimInputError(f"invalid HCL: unknown escape \\{nxt} in a string", file=file, line=line)
    return "".join(out)


def _tokens(text: str, file: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MeshsimInputError(f"invalid HCL: unexpected character {text[pos]!r}", file=file, line=line)
        kind = m.lastgroup
        if kind == "tag":  # the inner group of a heredoc
            kind = "heredoc"
        value = m.group(0)
        start_line = line
        if kind == "heredoc":
            tag = m.group("tag")
            indent = value.startswith("<<-")
            end = re.compile(rf"^[ \t]*{re.escape(tag)}[ \t]*$", re.MULTILINE)
            em = end.search(text, m.end())
            if em is None:
                raise MeshsimInputError(f"invalid HCL: heredoc <<{tag} is never closed", file=file, line=line)
            body = text[m.end() : em.start()]
            if indent:
                lines = body.split("\n")
                width = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
                body = "\n".join(x[width:] for x in lines)
            toks.append(_Tok("string", body, start_line))
            line += text.count("\n", m.start(), em.end())
            pos = em.end()
            continue
        line += value.count("\n")
        pos = m.end()
        if kind in ("ws", "comment", "block_comment"):
            continue
        if kind == "nl":
            toks.append(_Tok("nl", "\n", start_line))
        elif kind == "string":
            toks.append(_Tok("string", _unescape(value[1:-1], file, start_line), start_line))
        elif kind == "number":
            if len(value) > MAX_NUMBER_CHARS:
                raise MeshsimInputError(
                    f"invalid HCL: a number with {len(value):,} characters", file=file, line=start_line
                )
            num: Any = float(value) if any(c in value for c in ".eE") else int(value)
            toks.append(_Tok("number", num, start_line))
        elif kind == "ident":
            lit = {"true": True, "false": False, "null": None}
            toks.append(_Tok("literal" if value in lit else "ident", lit.get(value, value), start_line))
        else:
            toks.append(_Tok("punct", value, start_line))
    toks.append(_Tok("eof", None, line))
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok], file: str) -> None:
        self.toks, self.i, self.file = toks, 0, file
        self.depth = 0

    def deeper(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MeshsimInputError(f"HCL: nested more than {MAX_DEPTH} levels deep", file=self.file, line=tok.line)

    def peek(self, skip_nl: bool = True) -> _Tok:
        if skip_nl:
            while self.toks[self.i].kind == "nl":
                self.i += 1
        return self.toks[self.i]

    def take(self, skip_nl: bool = True) -> _Tok:
        tok = self.peek(skip_nl)
        self.i += 1
        return tok

    def fail(self, tok: _Tok, what: str) -> MeshsimInputError:
        got = "end of file" if tok.kind == "eof" else repr(tok.value)
        return MeshsimInputError(f"invalid HCL: expected {what}, found {got}", file=self.file, line=tok.line)

    def body(self, closing: str | None) -> LineMap:
        out = LineMap()
        start = self.peek()
        out.line = start.line
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.value == ",":
                self.take()
                continue
            if closing is None and tok.kind == "eof":
                return out
            if tok.kind == "punct" and tok.value == closing:
                self.take()
                return out
            if tok.kind not in ("ident", "string"):
                raise self.fail(tok, "a key" + (f" or {closing!r}" if closing else ""))
            self.take()
            key, key_line = str(tok.value), tok.line
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.value in ("=", ":"):
                self.take()
                self._store(out, key, self.value(), key_line, block=False)
                continue
            labels = []
            while nxt.kind == "string":
                labels.append(self.take().value)
                nxt = self.peek()
            if nxt.kind == "punct" and nxt.value == "{":
                self.deeper(self.take())
                inner: Any = self.body("}")
                self.depth -= 1
                for label in reversed(labels):
                    wrapped = LineMap()
                    wrapped.line = key_line
                    wrapped[label] = inner
                    wrapped.lines[label] = key_line
                    inner = wrapped
                self._store(out, key, inner, key_line, block=True)
                continue
            raise self.fail(nxt, f"'=' or '{{' after {key!r}")

    def _store(self, out: LineMap, key: str, value: Any, line: int, block: bool) -> None:
        if key in out and block:
            prev = out[key]
            if isinstance(prev, LineList) and getattr(prev, "_from_blocks", False):
                prev.append(value)
                prev.lines.append(line)
                return
            merged = LineList([prev, value])
            merged.line = out.lines[key]
            merged.lines = [out.lines[key], line]
            merged._from_blocks = True
            out[key] = merged
            return
        out[key] = value
        out.lines[key] = line

    def value(self) -> Any:
        tok = self.take()
        if tok.kind in ("string", "number", "literal"):
            return tok.value
        if tok.kind == "ident":  # a bare word, e.g. an HCL2 variable reference: keep it as text
            return tok.value
        if tok.kind == "punct" and tok.value == "{":
            self.deeper(tok)
            body = self.body("}")
            self.depth -= 1
            return body
        if tok.kind == "punct" and tok.value == "[":
            self.deeper(tok)
            out = LineList()
            out.line = tok.line
            while True:
                nxt = self.peek()
                if nxt.kind == "punct" and nxt.value == "]":
                    self.take()
                    self.depth -= 1
                    return out
                if nxt.kind == "punct" and nxt.value == ",":
                    self.take()
                    continue
                out.lines.append(self.peek().line)
                out.append(self.value())
        raise self.fail(tok, "a value")


def read_hcl(text: str, file: str | None = None) -> LineMap:
    """Parse HCL text into a :class:`LineMap` with line numbers."""
    parser = _Parser(_tokens(text, file or "<hcl>"), file or "<hcl>")
    return parser.body(None)
