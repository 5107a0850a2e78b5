"""``meshsim explain`` shows the servers' disciplines, the workloads and Flagger's computed weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import meshsim
from meshsim.analysis import setting_rows

SCENARIO = {
    "name": "ex",
    "services": {
        "s": {
            "service_time": "1ms",
            "discipline": "processor_sharing",
            "cores": 2,
            "versions": {"v1": {}, "v2": {"cores": 4}},
        },
        "plain": {"service_time": "1ms"},
    },
    "workload": [
        {"name": "w", "entry": "s", "users": 10, "think_time": "1s", "stages": [{"duration": "10s", "target": 20}]},
        {"name": "o", "entry": "plain", "rate": "5/s"},
    ],
    "rollout": {"service": "s", "baseline": "v1", "canary": "v2", "maxWeight": 50, "stepWeight": 20},
}


def _by(rows: list[dict[str, object]]) -> dict[tuple[object, object], tuple[object, object]]:
    return {(r["section"], r["field"]): (r["value"], r["origin"]) for r in rows}


def test_settings_say_their_value_and_where_it_came_from() -> None:
    got = _by(setting_rows(meshsim.load_scenario(SCENARIO)))
    assert got[("service s", "discipline")] == ("processor_sharing", "services.s.discipline")
    assert got[("service s/v1", "cores")] == (2.0, "services.s.cores")  # inherited from the service
    assert got[("service s/v2", "cores")] == (4.0, "services.s.versions.v2.cores")
    assert not any(section == "service plain" for section, _ in got)  # default FIFO: nothing to explain
    assert got[("workload w", "users")] == (10, "workload.0.users")
    assert got[("workload o", "arrival")] == ("poisson", "default (docs/scenario.md)")
    weights, origin = got[("rollout s", "weights")]
    assert weights == [20.0, 40.0, 60.0] and "Flagger" in str(origin)


def test_the_command_prints_them(tmp_path: Path) -> None:
    path = tmp_path / "ex.yaml"
    path.write_text(json.dumps(SCENARIO))  # JSON is YAML
    out = subprocess.run(
        [sys.executable, "-m", "meshsim", "explain", str(path), "--json"], capture_output=True, text=True, check=True
    ).stdout
    rows = json.loads(out)
    assert any(r.get("section") == "workload w" and r["field"] == "think_time" for r in rows)
    assert all("service" in r and "field" in r for r in rows)  # edge rows and setting rows share their keys
