"""Mutations of real input files, as a careless editor, a broken generator or an attacker makes them.

Each mutation takes a ``random.Random`` and the file's bytes and returns new bytes, so the same
generators serve the bounded hypothesis profile in ``make test`` (hypothesis drives the
Random and shrinks it) and the long ``make fuzz`` campaign (a seeded Random per case).

Structural mutations parse the YAML, change the tree (delete, rename, retype, wrong shape,
unknown references, cycles) and write it back; byte mutations break what a parser sees
(undecodable bytes, NUL, tabs, truncation, duplicate keys, alias bombs, deep nesting,
numbers no float or int-string can hold).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from meshsim.yamlio import dump_yaml, read_yaml

__all__ = ["RAW_VALUES", "mutate", "raw_token", "structural", "textual", "tweak"]

#: Scalars written verbatim into the file: each is a value some reader once choked on.
RAW_VALUES = (
    ".nan",
    ".inf",
    "-.inf",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-1e400",
    "1e308",
    "1e-400",
    "1e400KB",
    "1e400ms",
    "infs",
    "nanms",
    "1" + "0" * 400,
    "1" + "0" * 5000,
    "-" + "9" * 30,
    "9" * 19,
    "-1",
    "-0.0",
    "0",
    "0x7fffffff",
    "0o777",
    "1_000_000",
    "-5ms",
    "5 parsecs",
    "1e999/s",
    "200%",
    "-1%",
    "nan%",
    "~",
    "[]",
    "{}",
    "''",
    "yes",
    "2001-12-14",
    "12:30:45",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!!float 'nan'",
    "!!int '99999999999999999999999999999'",
    "*nowhere",
    '"\\x00"',
    '"a\\u0000b"',
    "'a\nb'",
    "ghost-service",
    "a/b/c/d",
    "sérvice-ñ",
    "\u202eevil",
    '"' + "x" * 5000 + '"',
)

_NAMES = ("ghost", "api", "db", "aws/us-east-1/a", "a/b", "v9", "", "x" * 300, "naïve", "名前", "a\nb", "*", "-")


def raw_token(rng: random.Random) -> str:
    """One special scalar, written as it will appear in the file."""
    return rng.choice(RAW_VALUES)


# ---------------------------------------------------------------- structural (YAML trees)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


_SENTINEL = "__raw_{}__"


def _replacement(rng: random.Random, old: Any, raws: list[str]) -> Any:
    choice = rng.randrange(10)
    if choice < 5:  # a special scalar, written verbatim after the dump
        raws.append(raw_token(rng))
        return _SENTINEL.format(len(raws) - 1)
    if choice == 5:
        return [old]
    if choice == 6:
        return {"x": old}
    if choice == 7:
        return rng.choice((None, True, False, "", 0, -1, 1.5, 10**20, "text"))
    if choice == 8:
        return rng.choice(_NAMES)
    return {str(rng.choice(_NAMES)): old, "extra": 1}


def structural(rng: random.Random, tree: Any) -> tuple[Any, list[str]]:
    """One change to a parsed tree; returns the tree and the raw scalars its sentinels stand for."""
    raws: list[str] = []
    paths = [p for p in _paths(tree) if p]
    if not paths:
        return tree, raws
    path = rng.choice(paths)
    parent, key = _get(tree, path[:-1]), path[-1]
    op = rng.randrange(9)
    if op == 0:  # delete
        if isinstance(parent, dict):
            parent.pop(key, None)
        elif isinstance(parent, list) and parent:
            parent.pop(key)
    elif op == 1 and isinstance(parent, dict):  # rename the key: typo, odd characters, another name
        value = parent.pop(key)
        name = str(key)
        new = rng.choice(
            (
                name[:-1] or "x",
                name + rng.choice("sx_"),
                name.upper(),
                rng.choice(_NAMES),
                name + "\n" + name,
                name.replace("_", "-"),
            )
        )
        parent[new] = value
    elif op == 2:  # a list where a map is meant and the reverse
        value = parent[key]
        if isinstance(value, dict):
            parent[key] = [{k: v} for k, v in value.items()] or [value]
        elif isinstance(value, list):
            parent[key] = {str(i): v for i, v in enumerate(value)} or {"0": value}
        else:
            parent[key] = _replacement(rng, value, raws)
    elif op == 3:  # copy a subtree somewhere else (a cycle of calls, a service in a policy slot ...)
        other = _get(tree, rng.choice(paths))
        parent[key] = _plain(other)
    elif op == 4 and isinstance(tree, dict) and isinstance(tree.get("services"), dict) and tree["services"]:
        names = list(tree["services"])
        a, b = rng.choice(names), rng.choice(names)
        svc = tree["services"][a]
        if isinstance(svc, dict):
            svc.setdefault("calls", [])
            if isinstance(svc["calls"], list):
                svc["calls"].append(rng.choice((b, {"to": b, "count": rng.choice((1, 3, 10**6))}, "ghost")))
    else:  # a new value in place
        parent[key] = _replacement(rng, parent[key], raws)
    return tree, raws


def _dump(tree: Any, raws: list[str], as_json: bool) -> str:
    text = json.dumps(tree, indent=2, ensure_ascii=False) if as_json else dump_yaml(tree)
    for i, raw in enumerate(raws):
        token = _SENTINEL.format(i)
        for quoted in (f'"{token}"', f"'{token}'", token):
            text = text.replace(quoted, raw)
    return text


# ---------------------------------------------------------------- textual (bytes)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _at(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


_SCALAR = re.compile(rb"(?<=[:=\[,] )(?:[-+]?[0-9][0-9A-Za-z_.%/]*|\"[^\"\n]*\"|[A-Za-z][\w.-]*)")

_BOMB = (
    b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    b"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    b"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    b"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    b"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)


def _deep(rng: random.Random, depth: int) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return b"[" * depth + b"1" + b"]" * depth
    if kind == 1:
        return b"{a: " * depth + b"1" + b"}" * depth
    depth = min(depth, 1000)  # block style grows with the square of the depth
    return b"".join(b"  " * i + b"a:\n" for i in range(depth)) + b"  " * depth + b"b: 1\n"


def textual(rng: random.Random, data: bytes) -> bytes:
    """One byte-level change (the result need not parse)."""
    op = rng.randrange(20)
    lines = _lines(data)
    if op == 0:  # an undecodable byte
        i = _at(rng, data)
        return data[:i] + bytes([rng.choice((0x80, 0xC3, 0xFF, 0xFE, 0xED))]) + data[i:]
    if op == 1:  # NUL
        i = _at(rng, data)
        return data[:i] + b"\x00" + data[i:]
    if op == 2:  # a tab as indentation
        j = rng.randrange(len(lines))
        lines[j] = b"\t" + lines[j].lstrip(b" ")
        return b"\n".join(lines)
    if op == 3:  # truncated
        return data[: _at(rng, data)]
    if op == 4:
        return rng.choice((b"", b"\n", b"   \n\n", b"---\n", b"---\n---\n", b"\xef\xbb\xbf", b"~\n", b"[]\n", b"''\n"))
    if op == 5:  # a duplicated line (duplicate keys)
        j = rng.randrange(len(lines))
        lines.insert(j, lines[j])
        return b"\n".join(lines)
    if op == 6:  # a line removed
        del lines[rng.randrange(len(lines))]
        return b"\n".join(lines)
    if op == 7:  # an alias bomb, alone or in front of the file
        return _BOMB + (data if rng.random() < 0.5 else b"")
    if op == 8:  # deep nesting as a value or as the document
        deep = _deep(rng, rng.choice((50, 99, 101, 200, 1000, 5000, 50000)))
        if rng.random() < 0.5:
            return deep
        return data + b"\nzz_deep: " + (deep if deep[:1] in b"[{" else b"\n" + deep)
    if op == 9:  # a scalar replaced by a special value
        found = list(_SCALAR.finditer(data))
        if found:
            m = rng.choice(found)
            return data[: m.start()] + raw_token(rng).encode() + data[m.end() :]
        return data + b"\nx: " + raw_token(rng).encode()
    if op == 10:  # a byte-order mark and Windows line ends
        return b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    if op == 11:  # indentation shifted on one line
        j = rng.randrange(len(lines))
        lines[j] = b" " * rng.choice((1, 3, 7)) + lines[j]
        return b"\n".join(lines)
    if op == 12:  # a very long line
        return data + b"\nlong: " + b"x" * rng.choice((10_000, 1_000_000))
    if op == 13:  # anchors and aliases pointing at themselves or at nothing
        return data + rng.choice((b"\nself: &s [*s]\n", b"\nloop: *loop\n", b"\nx: &x\n  y: *x\n", b"\n<<: *nope\n"))
    if op == 14:  # a second document
        return data + b"\n---\n" + data[: len(data) // 2]
    if op == 15:  # control characters
        i = _at(rng, data)
        return data[:i] + bytes([rng.choice((0x01, 0x07, 0x1B, 0x7F, 0x0C, 0x0B))]) + data[i:]
    if op == 16:  # a flow collection left open
        return data + b"\nopen: [1, 2, {a: "
    if op == 17:  # template syntax (Helm) that is not YAML
        i = _at(rng, data)
        return data[:i] + b"{{ .Values.x }}" + data[i:]
    if op == 18:  # an odd byte inside a multi-byte character
        return data.replace(b"e", b"\xc3\xa9", 3) + b"\xe2\x82"
    # random bytes spliced in
    i = _at(rng, data)
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))) + data[i:]


# ---------------------------------------------------------------- one case


def mutate(rng: random.Random, data: bytes, *, yaml_tree: bool = True, as_json: bool = False) -> bytes:
    """One to three mutations of ``data``.

    A third of the cases only tweak values within reason (the file usually stays valid, so the
    run itself is exercised); the others mix structural changes on the parsed tree with byte
    changes.
    """
    n = rng.choice((1, 1, 2, 3))
    benign = yaml_tree and rng.random() < 0.35
    for _ in range(n):
        if benign or (yaml_tree and rng.random() < 0.2):
            data = _tree_bytes(rng, data, as_json, tweak)
        elif yaml_tree and rng.random() < 0.5:
            data = _tree_bytes(rng, data, as_json, structural)
        else:
            data = textual(rng, data)
    return data


def tweak(rng: random.Random, tree: Any) -> tuple[Any, list[str]]:
    """A plausible change: a number scaled, a duration or rate rewritten, a flag flipped."""
    paths = [p for p in _paths(tree) if p and not isinstance(_get(tree, p), (dict, list))]
    if not paths:
        return tree, []
    path = rng.choice(paths)
    parent, key = _get(tree, path[:-1]), path[-1]
    value = parent[key]
    factor = rng.choice((0.01, 0.1, 0.5, 2, 3, 10, 100))
    if isinstance(value, bool):
        parent[key] = not value
    elif isinstance(value, int):
        parent[key] = max(0, int(value * factor)) if rng.random() < 0.8 else rng.choice((0, 1, 2, 7, 64, 1000))
    elif isinstance(value, float):
        parent[key] = value * factor
    elif isinstance(value, str):
        m = re.fullmatch(r"([0-9.]+)\s*(ns|us|ms|s|m|h|/s|/m|%|KB|MB|B|Gbps|Mbps)", value)
        if m:
            parent[key] = f"{float(m.group(1)) * factor:g}{m.group(2)}"
        elif rng.random() < 0.3:
            parent[key] = rng.choice(("5ms", "1s", "100/s", "50%", "0.5", "v2", "api"))
    return tree, []


def _tree_bytes(
    rng: random.Random, data: bytes, as_json: bool, change: Callable[[random.Random, Any], tuple[Any, list[str]]]
) -> bytes:
    try:
        tree = read_yaml(data.decode("utf-8"), "seed")
    except Exception:  # an earlier mutation broke the file: fall back to bytes
        return textual(rng, data)
    if tree is None:
        return textual(rng, data)
    tree, raws = change(rng, _plain(tree))
    try:
        return _dump(tree, raws, as_json).encode("utf-8")
    except Exception:  # an odd key the dumper cannot write
        return textual(rng, data)
