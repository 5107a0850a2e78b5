"""The bounded fuzz profile run by ``make test``: a few hundred mutated inputs through ``meshsim``.

Hypothesis drives the mutations (tests/fuzz/mutations.py) of real files: the bundled models,
the SLO file samples, every importer's samples (and the conformance corpus beside the
checkout when it is there), traces and metrics. Every case must end in an accepted input
or one clear refusal (exit 2); never a traceback (an exception escaping ``main`` or its
"internal error" exit 70). Every mutated scenario that validates is simulated (shortened to
a few hundred requests) twice: no exception, every request accounted for, the same results
JSON both times. ``make fuzz`` runs the same cases by the thousand (tests/fuzz/campaign.py).

The examples are derandomized, so the suite sees the same cases on every run; the
long campaign explores new ones with each ``--seed``.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness
from tests.fuzz.harness import FAILURES, IMPORT_FORMATS, make_case, run_case

PROFILE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


_COUNTER = itertools.count()


@pytest.fixture(autouse=True)
def _short_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few hundred requests per valid scenario keep the profile fast; make fuzz runs 2,000.
    monkeypatch.setattr(harness, "MAX_FUZZ_REQUESTS", 300)


def _check(target: str, rng: random.Random, tmp_path: Path) -> str:
    case = make_case(rng, target)
    work = tmp_path / f"case-{next(_COUNTER)}"
    work.mkdir()
    outcome = run_case(case, work)
    assert outcome.kind.split(":")[0] not in FAILURES, (
        f"{target} from {case.seed_file.name}: {outcome.kind}\n{outcome.detail[-3000:]}\n"
        f"input (first 2,000 bytes): {case.data[:2000]!r}"
    )
    return outcome.kind


@settings(PROFILE, max_examples=80)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_scenarios(rng: random.Random, tmp_path: Path) -> None:
    _check("scenario", rng, tmp_path)


@settings(PROFILE, max_examples=40)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_slo_files(rng: random.Random, tmp_path: Path) -> None:
    _check("slo", rng, tmp_path)


@pytest.mark.parametrize("fmt", IMPORT_FORMATS)
@settings(PROFILE, max_examples=15)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_mesh_configurations(fmt: str, rng: random.Random, tmp_path: Path) -> None:
    _check(f"import:{fmt}", rng, tmp_path)


@pytest.mark.parametrize("target", ["traces", "metrics"])
@settings(PROFILE, max_examples=15)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_traces_and_metrics(target: str, rng: random.Random, tmp_path: Path) -> None:
    _check(target, rng, tmp_path)


def test_the_profile_reaches_both_outcomes(tmp_path: Path) -> None:
    """The mutations are neither all fatal nor all harmless: some scenarios run, most are refused."""
    kinds = [_check("scenario", random.Random(seed), tmp_path) for seed in range(20)]
    assert any(k == "valid:ran" for k in kinds), kinds
    assert sum(k.startswith("refused") for k in kinds) >= 6, kinds
