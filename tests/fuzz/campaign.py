"""``make fuzz``: a long fuzz campaign through ``meshsim``'s entry point, counting outcomes.

    python -m tests.fuzz.campaign --cases 10000 --workers 2 [--seed 1] [--save DIR]

Case ``i`` is a pure function of ``--seed`` and ``i`` (a mutated scenario, SLO file, mesh
configuration, trace or metrics file; see tests/fuzz/mutations.py), so any case can be
replayed with ``--only i``. Each worker process runs cases in turn; a watchdog kills a worker
whose case runs past ``--timeout`` seconds (a hang) and starts another. Every worker is
limited to ``--memory-mb`` of address space, so a memory blow-up shows as a failure instead
of taking the machine down. Prints the count of every outcome class per target, then each
failure; exits 1 when there is any failure.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

#: Share of the cases that goes to each target (scenarios first, as in the issue's campaign).
WEIGHTS = {
    "scenario": 0.55,
    "slo": 0.08,
    "import:istio": 0.05,
    "import:linkerd": 0.05,
    "import:consul": 0.05,
    "import:appmesh": 0.04,
    "import:kuma": 0.05,
    "import:traefik": 0.04,
    "import:kubernetes": 0.03,
    "traces": 0.03,
    "metrics": 0.03,
}


def target_of(seed: int, i: int) -> str:
    rng = random.Random(f"target:{seed}:{i}")
    return rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]


def build_case(seed: int, i: int) -> Any:
    from tests.fuzz.harness import make_case

    return make_case(random.Random(f"case:{seed}:{i}"), target_of(seed, i))


def _worker(conn: Connection, seed: int, memory_mb: int, simulate: bool, max_requests: int) -> None:
    from tests.fuzz import harness
    from tests.fuzz.harness import run_case

    harness.MAX_FUZZ_REQUESTS = max_requests

    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    with tempfile.TemporaryDirectory(prefix="meshsim-fuzz-") as tmp:
        while True:
            i = conn.recv()
            if i is None:
                return
            case = build_case(seed, i)
            work = Path(tmp) / str(i)
            work.mkdir()
            outcome = run_case(case, work, simulate=simulate)
            conn.send((i, case.target, outcome.kind, outcome.detail))
            for f in work.iterdir():
                f.unlink()
            work.rmdir()


class _Slot:
    def __init__(self, ctx: Any, seed: int, memory_mb: int, simulate: bool, max_requests: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, seed, memory_mb, simulate, max_requests), daemon=True)
        self.proc.start()
        child.close()
        self.case: int | None = None
        self.started = 0.0

    def give(self, i: int) -> None:
        self.case, self.started = i, time.monotonic()
        self.conn.send(i)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def run(args: argparse.Namespace) -> int:
    ctx = mp.get_context("forkserver")
    todo = list(args.only) if args.only else list(range(args.cases))
    make = lambda: _Slot(ctx, args.seed, args.memory_mb, not args.no_simulate, args.max_requests)  # noqa: E731
    slots = [make() for _ in range(max(1, min(args.workers, len(todo))))]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    failures: list[tuple[int, str, str, str]] = []
    started, done = time.monotonic(), 0
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)

    def record(i: int, target: str, kind: str, detail: str) -> None:
        nonlocal done
        counts[target][kind] += 1
        done += 1
        if kind.split(":")[0] in ("traceback", "crash", "unaccounted", "nondeterministic", "hang", "exit"):
            failures.append((i, target, kind, detail))
            if save:
                case = build_case(args.seed, i)
                (save / f"{i}-{kind.replace(':', '_')}{case.suffix}").write_bytes(case.data)
                (save / f"{i}-{kind.replace(':', '_')}.txt").write_text(f"{target}\n{detail}", encoding="utf-8")
        if args.progress and done % args.progress == 0:
            rate = done / (time.monotonic() - started)
            print(f"{done}/{len(todo)} cases, {rate:.1f}/s, {len(failures)} failure(s)", file=sys.stderr, flush=True)

    try:
        _loop(args, todo, slots, make, record)
    except KeyboardInterrupt:  # report what was done so far
        print(f"interrupted after {done} of {len(todo)} cases", file=sys.stderr)
    for slot in slots:
        if slot.case is None:
            slot.conn.send(None)
        slot.proc.join(timeout=5)
        if slot.proc.is_alive():
            slot.kill()
    elapsed = time.monotonic() - started
    _report(counts, failures, done, elapsed)
    return 1 if failures else 0


def _loop(args: argparse.Namespace, todo: list[int], slots: list[_Slot], make: Any, record: Any) -> None:
    done, nxt = 0, 0
    while done < len(todo):
        for slot in slots:
            if slot.case is None and nxt < len(todo):
                slot.give(todo[nxt])
                nxt += 1
        busy = [s for s in slots if s.case is not None]
        ready = wait([s.conn for s in busy], timeout=1.0)
        now = time.monotonic()
        for k, slot in enumerate(slots):
            if slot.case is None:
                continue
            if slot.conn in ready:
                try:
                    i, target, kind, detail = slot.conn.recv()
                except EOFError:  # the worker died (a signal, the memory limit in C code)
                    i, target, kind, detail = slot.case, target_of(args.seed, slot.case), "crash", "worker died"
                    slot.kill()
                    slots[k] = make()
                    record(i, target, kind, detail)
                    done += 1
                    continue
                slot.case = None
                record(i, target, kind, detail)
                done += 1
            elif now - slot.started > args.timeout:
                i = slot.case
                slot.kill()
                slots[k] = make()
                record(i, target_of(args.seed, i), "hang", f"over {args.timeout:g} s")
                done += 1


def _report(counts: dict[str, Counter[str]], failures: list[tuple[int, str, str, str]], n: int, elapsed: float) -> None:
    total: Counter[str] = Counter()
    print(f"meshsim fuzz campaign: {n} cases in {elapsed:.0f} s")
    for target in sorted(counts):
        c = counts[target]
        total.update(c)
        row = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
        print(f"  {target:<18} {sum(c.values()):>6}: {row}")
    print("  outcome classes over all targets:")
    for kind, v in sorted(total.items()):
        print(f"    {kind:<22} {v:>6}")
    classes = ("traceback", "hang", "crash", "unaccounted", "nondeterministic", "exit")
    fails = {k: sum(v for kind, v in total.items() if kind.split(":")[0] == k) for k in classes}
    print("  failures: " + ", ".join(f"{k} {v}" for k, v in fails.items()))
    for i, target, kind, detail in failures[:50]:
        last = detail.strip().splitlines()[-1] if detail.strip() else ""
        print(f"  case {i} ({target}): {kind}: {last[:300]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    p.add_argument("--max-requests", type=int, default=2_000, help="cap on each valid scenario's requests")
    p.add_argument("--memory-mb", type=int, default=3072, help="address-space limit per worker (0: none)")
    p.add_argument("--no-simulate", action="store_true", help="only validate the valid scenarios")
    p.add_argument("--only", type=int, nargs="+", help="replay these case numbers")
    p.add_argument("--save", metavar="DIR", help="write every failing input here")
    p.add_argument("--progress", type=int, default=500, help="print progress every N cases (0: never)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
