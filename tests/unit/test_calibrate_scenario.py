"""calibrate(): from spans (and metrics, manifests) to a commented scenario that validates.

The spans come from meshsim.calibrate._synthetic (no queueing, fixed 0.5 ms network),
driven by a known scenario, so the recovered structure must be exact and the fitted
values within 4 standard errors of the truth (see test_calibrate_fit for the formulas).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from meshsim.calibrate import calibrate, synthetic_spans
from meshsim.errors import MeshsimInputError
from meshsim.scenario import scenario_from_dict

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
RATE, SECONDS = 40.0, 60.0
TRUE = {
    "frontend": {
        "service_time": {"dist": "lognormal", "median": "4ms", "p99": "30ms"},
        "calls": [
            "productcatalog",
            {"parallel": ["currency", {"to": "cart", "probability": 0.5}]},
            {"to": "recommendation", "optional": True},
        ],
    },
    "productcatalog": {"service_time": {"dist": "gamma", "mean": "3ms", "cv": 0.5}},
    "currency": {"service_time": {"dist": "exponential", "mean": "2ms"}},
    "cart": {
        "service_time": {"dist": "lognormal", "median": "6ms", "p99": "40ms"},
        "error_rate": 0.02,
        "calls": [{"to": "redis", "count": 2}],
    },
    "redis": {"service_time": {"dist": "exponential", "mean": "0.5ms"}},
    "recommendation": {"service_time": {"dist": "gamma", "mean": "8ms", "cv": 0.6}, "error_rate": 0.05},
}


@pytest.fixture(scope="module")
def result():
    spans = synthetic_spans(TRUE, [{"entry": "frontend", "rate": RATE}], SECONDS, np.random.default_rng(5))
    return calibrate(spans=spans, name="boutique", seed=9)


def test_call_graph_is_recovered_exactly(result) -> None:
    s = result.scenario
    assert set(s["services"]) == set(TRUE)
    front = s["services"]["frontend"]["calls"]
    assert front[0] == "productcatalog"
    cur, cart = front[1]["parallel"]
    assert cur == "currency" and cart["to"] == "cart"
    n = result.analysis.graph.nodes["frontend"]["requests"]
    assert abs(cart["probability"] - 0.5) < 4 * math.sqrt(0.25 / n)
    assert front[2] == {"to": "recommendation", "optional": True}
    assert s["services"]["cart"]["calls"] == [{"to": "redis", "count": 2}]
    assert "calls" not in s["services"]["redis"]
    assert s["workload"][0]["entry"] == "frontend" and s["name"] == "boutique" and s["seed"] == 9


def test_fitted_values_are_near_the_truth(result) -> None:
    p = result.provenance
    n = p["services.frontend.service_time"]["n"]
    fe = p["services.frontend.service_time"]
    sigma = (math.log(30) - math.log(4)) / 2.3263
    assert fe["fit"] == "lognormal"
    assert abs(math.log(fe["params"]["median"] / 4e-3)) < 4 * sigma / math.sqrt(n)
    pc = p["services.productcatalog.service_time"]
    assert pc["fit"] == "gamma" and abs(pc["params"]["mean"] - 3e-3) < 4 * 3e-3 * 0.5 / math.sqrt(pc["n"])
    redis = p["services.redis.service_time"]
    assert redis["fit"] == "exponential" and abs(redis["params"]["mean"] - 5e-4) < 4 * 5e-4 / math.sqrt(redis["n"])
    for svc, rate in (("cart", 0.02), ("recommendation", 0.05), ("currency", 0.0)):
        got = result.scenario["services"][svc]["error_rate"]
        m = p[f"services.{svc}.error_rate"]["n"]
        assert abs(got - rate) <= 4 * math.sqrt(max(rate * (1 - rate), 1 / m) / m), svc
    # frontend only fails when cart fails: those failures are cart's, not frontend's own.
    assert result.scenario["services"]["frontend"]["error_rate"] == 0.0
    rate = float(result.scenario["workload"][0]["rate"].removesuffix("/s"))
    assert abs(rate - RATE) < 4 * math.sqrt(RATE / SECONDS)


def _check_yaml(result) -> str:
    """The YAML loads back to the scenario, validates, and each provenance entry is an end-of-line comment."""
    text = result.to_yaml()
    assert yaml.safe_load(text) == result.scenario
    lines = text.splitlines()

    def commented(key: str, comment: str) -> bool:
        # The comment ends the key's line, or the last line of a value that wraps.
        for i, line in enumerate(lines):
            if line.lstrip().startswith((f"{key}:", f"- {key}:")) or f" {key}:" in line:
                indent = len(line) - len(line.lstrip())
                j = i
                while j + 1 < len(lines) and len(lines[j + 1]) - len(lines[j + 1].lstrip()) > indent + 2:
                    j += 1  # continuation lines of a wrapped flow value
                if lines[j].rstrip().endswith(f"# {comment}"):
                    return True
        return False

    for path, info in result.provenance.items():
        assert commented(path.split(".")[-1], info["comment"]), f"no comment for {path}: {info['comment']}"
    scenario_from_dict(yaml.safe_load(text))  # the contract's own validator accepts it
    return text


def test_yaml_loads_back_and_every_value_has_its_comment(result, tmp_path: Path) -> None:
    out = tmp_path / "calibrated.yaml"
    text = result.to_yaml(out)
    assert out.read_text() == text
    assert _check_yaml(result) == text
    assert "lognormal fit (KS p=" in text and "spans of frontend" in text
    assert "services.frontend.service_time" in result.provenance
    assert result.provenance["workload.0.rate"]["n"] == result.analysis.graph.nodes["frontend"]["roots"]


def test_sample_rate_scales_arrivals() -> None:
    spans = synthetic_spans({"a": {"service_time": "1ms"}}, [{"entry": "a", "rate": 20}], 30, np.random.default_rng(1))
    full = calibrate(spans=spans)
    sampled = calibrate(spans=spans, sample_rate=0.5)
    r_full = float(full.scenario["workload"][0]["rate"][:-2])
    r_half = float(sampled.scenario["workload"][0]["rate"][:-2])
    assert r_half == pytest.approx(2 * r_full, rel=1e-3)
    assert full.scenario["services"]["a"]["service_time"] == "1ms"  # constant recognised


def test_versions_get_their_own_fits_and_a_split() -> None:
    rng = np.random.default_rng(2)
    v1 = synthetic_spans({"api": {"service_time": "2ms"}}, [{"entry": "api", "rate": 30}], 20, rng)
    v2 = synthetic_spans({"api": {"service_time": "6ms", "error_rate": 0.1}}, [{"entry": "api", "rate": 10}], 20, rng)
    v1["version"], v2["version"] = "v1", "v2"
    import pandas as pd

    r = calibrate(spans=pd.concat([v1, v2], ignore_index=True))
    versions = r.scenario["services"]["api"]["versions"]
    assert versions["v1"]["service_time"] == "2ms" and versions["v2"]["service_time"] == "6ms"
    split = r.scenario["policies"]["api"]["split"]
    assert split["v1"] + split["v2"] == pytest.approx(100, abs=0.2) and split["v1"] > 60
    _check_yaml(r)


MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, labels: {app: frontend}}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: frontend, version: v1}}
    spec:
      nodeSelector: {topology.kubernetes.io/zone: us-east-1a}
---
apiVersion: v1
kind: Service
metadata: {name: cart}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-v1}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: cart, version: v1}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-v2}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: cart, version: v2}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}
"""


def test_manifests_set_replicas_versions_and_zones(tmp_path: Path) -> None:
    p = tmp_path / "deploy.yaml"
    p.write_text(MANIFESTS)
    spans = synthetic_spans(
        {"frontend": {"service_time": "3ms", "calls": ["cart"]}, "cart": {"service_time": "2ms"}},
        [{"entry": "frontend", "rate": 20}],
        10,
        np.random.default_rng(4),
    )
    r = calibrate(spans=spans, manifests=p)
    s = r.scenario
    assert s["locations"] == {"aws": {"us-east-1": ["a", "b"]}}
    assert s["services"]["frontend"]["placement"] == {"aws/us-east-1/a": 3}
    cart = s["services"]["cart"]["versions"]
    assert cart["v1"]["placement"] == {"aws/us-east-1/a": 1, "aws/us-east-1/b": 1}
    assert cart["v2"]["placement"] == {"aws/us-east-1/a": 1}
    assert s["workload"][0]["origin"] == "aws/us-east-1"
    assert r.provenance["services.frontend.placement"]["source"] == "manifests"
    _check_yaml(r)


def test_metrics_fill_in_what_traces_miss() -> None:
    r = calibrate([DATA / "otlp_shop.json"], metrics_path=DATA / "istio_metrics.prom", metrics_window_s=100)
    s = r.scenario
    ship = s["services"]["shipping"]
    assert ship["service_time"]["dist"] == "histogram"
    assert ship["service_time"]["buckets"]["25ms"] == 300
    assert {"to": "shipping", "probability": pytest.approx(300 / 1005, abs=1e-4)} in s["services"]["frontend"]["calls"]
    assert s["mesh"] == {"proxy": "envoy", "defaults": "istio"}
    assert s["workload"][0]["rate"] == "10.05/s"  # the unsampled rate from the counters
    assert "istio histogram of 300 requests into shipping" in r.to_yaml()
    assert any("only in metrics" in w for w in r.warnings)
    _check_yaml(r)


def test_metrics_alone_need_a_rate() -> None:
    r = calibrate(metrics_path=DATA / "istio_metrics.prom", metrics_window_s=100)
    assert r.scenario["workload"][0]["entry"] == "frontend"
    assert set(r.scenario["services"]) == {"frontend", "cart", "shipping"}
    _check_yaml(r)
    with pytest.raises(MeshsimInputError, match="no request rate"):
        calibrate(metrics_path=DATA / "istio_metrics.prom")


def test_call_cycles_are_broken_with_a_warning() -> None:
    from meshsim.calibrate._traces import spans_frame

    rows = []
    for i in range(10):
        t = f"{i:032x}"
        rows.append(
            {
                "trace_id": t,
                "span_id": "1",
                "parent_id": None,
                "service": "a",
                "start_s": i,
                "duration_s": 0.05,
            }
        )
        rows.append(
            {
                "trace_id": t,
                "span_id": "2",
                "parent_id": "1",
                "service": "b",
                "start_s": i + 0.01,
                "duration_s": 0.03,
            }
        )
        if i < 2:  # b sometimes calls back into a
            rows.append(
                {
                    "trace_id": t,
                    "span_id": "3",
                    "parent_id": "2",
                    "service": "a",
                    "start_s": i + 0.02,
                    "duration_s": 0.005,
                }
            )
    r = calibrate(spans=spans_frame(rows))
    # a handled 12 requests (10 roots, 2 calls back from b); 10 of them called b.
    assert r.scenario["services"]["a"]["calls"] == [{"to": "b", "probability": 0.8333}]
    assert "calls" not in r.scenario["services"]["b"]
    assert any("cycle" in w and "b -> a" in w for w in r.warnings)
    _check_yaml(r)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(MeshsimInputError, match="nothing to calibrate"):
        calibrate()
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Deployment\nmetadata: {name: x\nspec: {}\n")
    with pytest.raises(MeshsimInputError) as err:
        calibrate([DATA / "jaeger_shop.json"], manifests=bad)
    assert err.value.problems[0].file == str(bad) and err.value.problems[0].line is not None
    with pytest.raises(MeshsimInputError, match="sample rate"):
        calibrate([DATA / "jaeger_shop.json"], sample_rate=0)
