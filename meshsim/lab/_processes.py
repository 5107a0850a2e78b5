"""The processes the lab starts, and the guarantee that it stops every one of them.

Each child runs in its own session (a Ctrl-C at the terminal reaches the lab only, which then
stops its children in order) and, on Linux, is killed by the kernel if the lab itself dies
(``PR_SET_PDEATHSIG``). :class:`Supervisor` is a context manager: leaving it, normally, on an
error or on Ctrl-C, terminates every child still running, waits a bounded time, then kills.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["Supervisor", "free_ports"]

_STOP_WAIT_S = 3.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A function for the child, between fork and exec, that asks Linux to kill it when the lab dies.

    libc is loaded here, in the parent, so the child only makes the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None

    def child() -> None:  # pragma: no cover - runs in the child
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return child


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 now (the kernel picks them)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Supervisor:
    """Starts named child processes with their output in ``log_dir``; stops them all on exit."""

    def __init__(self, log_dir: Path) -> None:
        """Keep each child's combined output in ``log_dir/<name>.log``."""
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0
        self._in_child = _die_with_parent()

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` as child ``name`` (a child of that name must not be running)."""
        old = self.procs.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is already running")
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115  # the child owns it; closed below
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._in_child,  # noqa: PLW1509
            )
        finally:
            log.close()
        self.procs[name] = proc
        self.started += 1
        return proc

    def alive(self, name: str) -> bool:
        """Whether child ``name`` is running."""
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def kill(self, name: str) -> None:
        """Kill child ``name`` at once (a crash: no clean shutdown) and reap it."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_STOP_WAIT_S)

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines a child wrote (for error messages)."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        """Terminate every running child, wait up to 3 s in all, then kill what is left."""
        running = [p for p in self.procs.values() if p.poll() is None]
        for p in running:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        deadline = time.monotonic() + _STOP_WAIT_S
        for p in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.0, deadline - time.monotonic()))
        for p in running:
            if p.poll() is None:
                p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(_STOP_WAIT_S)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
