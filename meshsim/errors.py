"""User-facing errors: one clear message with file, line and field.

The CLI turns every :class:`MeshsimInputError` into that message and exit code 2;
nothing else the user gave us should ever produce a traceback.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MAX_INPUT_BYTES", "InputProblem", "MeshsimInputError", "read_input_bytes", "read_input_text"]

#: The largest file meshsim reads (scenarios, SLO files, mesh configurations, traces, metrics).
MAX_INPUT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class InputProblem:
    """One problem in one input file."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def render(self) -> str:
        """Return ``file:line:col: field: message`` with the parts that are known."""
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


@dataclass
class MeshsimInputError(Exception):
    """Bad input from the user (scenario, SLO file, trace, mesh configuration)."""

    problems: list[InputProblem] = field(default_factory=list)

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        problems: list[InputProblem] | None = None,
    ) -> None:
        """One problem from ``message`` and its location, and/or the given ``problems``.

        Args:
            message: the first problem's text (None: only ``problems``).
            file: the file ``message`` is about.
            line: the line in that file.
            column: the column in that line.
            field: the dotted field path.
            problems: further problems, after the one ``message`` makes.
        """
        self.problems = list(problems or [])
        if message is not None:
            self.problems.insert(0, InputProblem(message, file=file, line=line, column=column, field=field))
        super().__init__(self.render())

    def render(self) -> str:
        """All problems, one per line."""
        return "\n".join(p.render() for p in self.problems)

    def __str__(self) -> str:
        """All problems, one per line (as :meth:`render`)."""
        return self.render()


def read_input_bytes(
    path: str | Path, *, what: str = "file", field: str | None = None, limit_bytes: int = MAX_INPUT_BYTES
) -> bytes:
    """The bytes of one input file, or a :class:`MeshsimInputError` saying why not.

    Only regular files are read (a folder, a FIFO or a device is refused before any read, so
    nothing blocks or runs out of memory), up to ``limit_bytes``; OS errors (missing file,
    permission, a name too long) become the usual one-line message.

    Args:
        path: the file.
        what: what the file should be, for messages ("SLO file", "trace file").
        field: the option or field that named the file (e.g. ``--slo``), for messages.
        limit_bytes: the largest size accepted.
    """
    name = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise MeshsimInputError(f"{what} not found", file=name, field=field) from None
    except OSError as exc:
        raise MeshsimInputError(f"cannot read {what}: {exc.strerror or exc}", file=name, field=field) from None
    if stat.S_ISDIR(info.st_mode):
        raise MeshsimInputError(f"is a folder, not a {what}", file=name, field=field)
    if not stat.S_ISREG(info.st_mode):
        raise MeshsimInputError(
            f"not a regular file (a pipe, socket or device), so not a {what}", file=name, field=field
        )
    if info.st_size > limit_bytes:
        raise MeshsimInputError(
            f"{what} is {info.st_size:,} bytes; the limit is {limit_bytes:,}", file=name, field=field
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit_bytes + 1)
    except OSError as exc:
        raise MeshsimInputError(f"cannot read {what}: {exc.strerror or exc}", file=name, field=field) from None
    if len(data) > limit_bytes:
        raise MeshsimInputError(f"{what} is over the limit of {limit_bytes:,} bytes", file=name, field=field)
    return data


def read_input_text(
    path: str | Path, *, what: str = "file", field: str | None = None, limit_bytes: int = MAX_INPUT_BYTES
) -> str:
    """The text of one input file (UTF-8, a byte-order mark allowed), through :func:`read_input_bytes`.

    Undecodable bytes and NUL characters are refused with the line they are on.
    """
    data = read_input_bytes(path, what=what, field=field, limit_bytes=limit_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MeshsimInputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)", file=str(path), line=line
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise MeshsimInputError(
            "contains a NUL character: not a text file", file=str(path), line=text.count("\n", 0, nul) + 1
        )
    return text
