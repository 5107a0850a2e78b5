"""User-facing errors, and the one gate every file passes on its way in or out.

The CLI turns every :class:`MeshsimInputError` into one clear message with file, line and
field, and exit code 2; nothing the user gave us should ever produce a traceback.

In: every file meshsim reads (scenarios, SLO files, mesh configurations, traces, metrics,
manifests) comes through :func:`read_input_bytes` / :func:`read_input_text`: regular files
or standard input only, a size limit, UTF-8 with the line of a bad byte, no NUL.
Out: every file meshsim writes goes through :func:`write_output`: atomic, and any OS error
becomes :class:`MeshsimOutputError` (``meshsim: cannot write PATH: reason``, exit 2).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "MAX_INPUT_BYTES",
    "STDIN",
    "InputProblem",
    "MeshsimInputError",
    "MeshsimOutputError",
    "decode_input_text",
    "display_name",
    "is_stdin",
    "one_line",
    "os_reason",
    "read_input_bytes",
    "read_input_text",
    "write_output",
]

#: The largest file meshsim reads (traces and metrics; YAML readers bound their own work further).
MAX_INPUT_BYTES = 256 * 1024 * 1024
#: The name standard input goes by: ``-`` as a path means "read standard input", as Unix tools do.
STDIN = "-"
_STDIN_ALIASES = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")
_CHUNK_BYTES = 1024 * 1024


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
            where = display_name(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        what = f"{one_line(self.field)}: " if self.field else ""
        return f"{where}{what}{one_line(self.message)}"


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


class MeshsimOutputError(MeshsimInputError):
    """A file meshsim was asked to write could not be written (exit 2, like bad input).

    Renders as ``meshsim: cannot write PATH: reason``, plus where the results went instead
    (``note``) when some were computed before the write failed.
    """

    def __init__(self, path: str | Path, reason: str, note: str = "", field: str | None = None) -> None:
        """The output ``path``, why it failed (``reason``), what became of the results (``note``).

        ``field`` names the option that gave the path (``--junit``), when known.
        """
        self.path, self.reason, self.note = str(path), reason, note
        super().__init__(problems=[InputProblem(self._text(), field=field)])

    def _text(self) -> str:
        return f"cannot write {display_name(self.path)}: {self.reason}" + (f" ({self.note})" if self.note else "")

    def render(self) -> str:
        """``meshsim: cannot write PATH: reason``."""
        return f"meshsim: {self._text()}"


_LONG_WORD = re.compile(r"\S{161,}")


def one_line(text: str) -> str:
    """``text`` fit for one line of a message: control characters escaped, very long words shortened."""
    shown = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
    return _LONG_WORD.sub(lambda m: f"{m.group()[:80]}...{m.group()[-40:]} ({len(m.group()):,} characters)", shown)


def display_name(name: str, width: int = 160) -> str:
    """A file name fit for a one-line message: control characters escaped, a very long name shortened."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
    if len(shown) > width:
        shown = f"{shown[: width // 2]}...{shown[-(width // 2 - 3) :]}"
    return shown


def os_reason(exc: OSError) -> str:
    """The human part of an OS error ("No space left on device"), without the errno or the path."""
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long for the file system"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    return exc.strerror or str(exc) or type(exc).__name__


def is_stdin(path: str | Path) -> bool:
    """Whether ``path`` names standard input (``-``, or ``/dev/stdin``)."""
    return str(path) in _STDIN_ALIASES


def _a(what: str) -> str:
    """``what`` with its article: "a scenario file", "an SLO file"."""
    vowel_sound = what[:1].lower() in "aeiou" or what.startswith(("SLO", "HTML", "MB", "X"))
    return f"{'an' if vowel_sound else 'a'} {what}"


def _refuse_special(mode: int, name: str, what: str, field: str | None) -> None:
    if stat.S_ISDIR(mode):
        raise MeshsimInputError(f"is a folder, not {_a(what)}", file=name, field=field)
    if stat.S_ISFIFO(mode):
        raise MeshsimInputError(
            f"is a named pipe (FIFO), not {_a(what)}: meshsim reads regular files, or standard input given as -",
            file=name,
            field=field,
        )
    if not stat.S_ISREG(mode):
        kind = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket or other special file"
        raise MeshsimInputError(
            f"is {kind}, not a regular file, so not {_a(what)} (meshsim never reads devices)", file=name, field=field
        )


def _read_limited(fh: BinaryIO, name: str, what: str, field: str | None, limit_bytes: int, text: bool) -> bytes:
    """Read ``fh`` in chunks up to ``limit_bytes``; with ``text``, stop at the first NUL or bad byte."""
    chunks: list[bytes] = []
    total, lines = 0, 0
    decoder = codecs.getincrementaldecoder("utf-8")() if text else None
    while True:
        try:
            chunk = fh.read(min(_CHUNK_BYTES, limit_bytes + 1 - total))
        except OSError as exc:
            raise MeshsimInputError(f"cannot read {what}: {os_reason(exc)}", file=name, field=field) from None
        if not chunk:
            break
        if decoder is not None:  # fail early on binary data (e.g. /dev/zero on standard input)
            _check_text_chunk(decoder, chunks, chunk, name, lines)
            lines += chunk.count(b"\n")
        chunks.append(chunk)
        total += len(chunk)
        if total > limit_bytes:
            raise MeshsimInputError(f"{what} is over the limit of {limit_bytes:,} bytes", file=name, field=field)
    return b"".join(chunks)


def _check_text_chunk(
    decoder: codecs.IncrementalDecoder, before: list[bytes], chunk: bytes, name: str, lines_before: int
) -> None:
    nul = chunk.find(b"\x00")
    if nul >= 0:
        line = lines_before + chunk.count(b"\n", 0, nul) + 1
        raise MeshsimInputError("contains a NUL byte: not a text file", file=name, line=line)
    try:
        decoder.decode(chunk)
    except UnicodeDecodeError:
        decode_input_text(b"".join(before) + chunk, name)  # raises, naming the line
        raise


def _read_stdin(what: str, field: str | None, limit_bytes: int, text: bool) -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise MeshsimInputError(f"no standard input to read the {what} from", file=STDIN, field=field)
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):  # a replaced sys.stdin (tests, notebooks): read it as it is
        mode = stat.S_IFIFO
    if stat.S_ISDIR(mode):
        raise MeshsimInputError(f"standard input is a folder, not {_a(what)}", file=STDIN, field=field)
    if stream.isatty():
        print(f"meshsim: reading the {what} from standard input (end with Ctrl-D)", file=sys.stderr)
    return _read_limited(stream, "<stdin>", what, field, limit_bytes, text)


def read_input_bytes(
    path: str | Path,
    *,
    what: str = "file",
    field: str | None = None,
    limit_bytes: int = MAX_INPUT_BYTES,
    text: bool = False,
) -> bytes:
    """The bytes of one input file, or a :class:`MeshsimInputError` saying why not.

    Only regular files are read, and standard input when ``path`` is ``-`` (or ``/dev/stdin``).
    A folder, a named pipe, a socket or a device is refused without reading it, so nothing
    blocks or runs out of memory (the file is opened without blocking and checked again
    once open, in case it was swapped). At most ``limit_bytes`` are read. OS errors (missing
    file, permission, a name too long, a symlink loop) become the usual one-line message.

    Args:
        path: the file, or ``-`` for standard input.
        what: what the file should be, for messages ("SLO file", "trace file").
        field: the option or field that named the file (e.g. ``--slo``), for messages.
        limit_bytes: the largest size accepted.
        text: stop at the first NUL or undecodable byte (the file must be UTF-8 text).
    """
    if is_stdin(path):
        return _read_stdin(what, field, limit_bytes, text)
    name = str(path)
    if not name:
        raise MeshsimInputError(f"no {what} given (an empty name)", field=field)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        missing = "no such file" if what == "file" else f"{what} not found (no such file)"
        raise MeshsimInputError(missing, file=name, field=field) from None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL in the name
        reason = os_reason(exc) if isinstance(exc, OSError) else "the name contains a NUL character"
        raise MeshsimInputError(f"cannot read {what}: {reason}", file=name, field=field) from None
    _refuse_special(info.st_mode, name, what, field)
    if info.st_size > limit_bytes:
        raise MeshsimInputError(
            f"{what} is {info.st_size:,} bytes; the limit is {limit_bytes:,}", file=name, field=field
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MeshsimInputError(f"cannot read {what}: {os_reason(exc)}", file=name, field=field) from None
    with open(fd, "rb", closefd=True) as fh:
        _refuse_special(os.fstat(fd).st_mode, name, what, field)  # swapped since the stat?
        return _read_limited(fh, name, what, field, limit_bytes, text)


def decode_input_text(data: bytes, name: str) -> str:
    """Bytes a user gave (a file's, an upload's) as text: UTF-8 (a byte-order mark allowed), no NUL.

    Undecodable bytes and NUL characters are refused with the line they are on.
    """
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise MeshsimInputError(
            f"not UTF-8 text (byte 0x{body[exc.start]:02x} cannot be decoded)", file=name, line=line
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise MeshsimInputError(
            "contains a NUL character: not a text file", file=name, line=text.count("\n", 0, nul) + 1
        )
    return text


def read_input_text(
    path: str | Path, *, what: str = "file", field: str | None = None, limit_bytes: int = MAX_INPUT_BYTES
) -> str:
    """The text of one input file (UTF-8, a byte-order mark allowed), through :func:`read_input_bytes`.

    Undecodable bytes and NUL characters are refused with the line they are on; ``-`` reads
    standard input.
    """
    data = read_input_bytes(path, what=what, field=field, limit_bytes=limit_bytes, text=True)
    return decode_input_text(data, "<stdin>" if is_stdin(path) else str(path))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_special(path: str, data: bytes) -> None:
    """Write to an existing non-regular file (``/dev/null``, ``/dev/stdout``, a pipe with a reader)."""
    # O_NONBLOCK: a named pipe nobody reads fails at once (ENXIO) instead of waiting forever.
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, then rename it over ``target``."""
    import tempfile

    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name[:100]}.", suffix=".tmp")
    try:
        with open(fd, "wb", closefd=True) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # a full disk shows here, not after the rename
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _parent_problem(target: Path) -> str | None:
    """Why the folder of ``target`` cannot hold it (a parent that is a file), or None."""
    for parent in target.parents:
        try:
            info = os.stat(parent)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            return f"{parent} is a file, not a folder"
        return None
    return None


def write_output(path: str | Path, data: bytes | str, *, what: str = "output", field: str | None = None) -> Path | None:
    """Write one output file atomically, or raise :class:`MeshsimOutputError` saying why not.

    A regular file is written to a temporary file beside it and renamed over it, so a crash
    or a full disk never leaves half a result, and two runs writing the same file leave one
    whole file. Missing folders are created. ``-`` writes to standard output; an existing
    device or pipe (``/dev/null``, ``/dev/stdout``) is written in place, and a named pipe
    nobody reads is refused instead of waited on. Text is written as UTF-8.

    Returns the path written (None for standard output). ``field`` names the option that
    gave the path, for the error.
    """
    try:
        return _write_output(path, data, what)
    except MeshsimOutputError as exc:
        raise MeshsimOutputError(exc.path, exc.reason, exc.note, field=field) from None


def _write_output(path: str | Path, data: bytes | str, what: str) -> Path | None:
    payload = data.encode("utf-8") if isinstance(data, str) else data
    name = str(path)
    if name == STDIN:
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stdout (a notebook, a test's capture)
            sys.stdout.write(payload.decode("utf-8", errors="replace"))
            return None
        sys.stdout.flush()
        buffer.write(payload)
        buffer.flush()
        return None
    if not name:
        raise MeshsimOutputError(name, f"no file name given for the {what}")
    target = Path(path)
    try:
        if target.is_symlink():  # write beside the real file, keep the link
            target = target.resolve(strict=False)
        try:
            info = os.stat(target)
        except (FileNotFoundError, NotADirectoryError):
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise MeshsimOutputError(name, "is a folder; give a file name")
        if info is not None and not stat.S_ISREG(info.st_mode):
            _write_special(str(target), payload)
            return target
        problem = _parent_problem(target)
        if problem:
            raise MeshsimOutputError(name, problem)
        _write_atomic(target, payload)
    except MeshsimOutputError:
        raise
    except OSError as exc:
        reason = os_reason(exc)
        if exc.errno == errno.ENXIO:
            reason = "a named pipe that no process is reading"
        raise MeshsimOutputError(name, reason) from None
    except ValueError:  # an embedded NUL in the name
        raise MeshsimOutputError(name, "the name contains a NUL character") from None
    return target
