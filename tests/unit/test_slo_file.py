"""SLO files: meshsim's format, OpenSLO v1 examples, warnings, and located errors.

OpenSLO v1 shapes follow the OpenSLO specification README (summarised in
the conventions in docs/ci-gate.md): kind SLO with inline ``indicator`` or
``indicatorRef``; thresholdMetric / ratioMetric good|bad + total / raw + rawType.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshsim.errors import MeshsimInputError
from meshsim.scenario import SloSpec
from meshsim.slo import SloFileWarning, load_slo_file, parse_slo_text, read_slo_file, slo_lines_in_yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "slo"


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (so tests do not pin numbers)."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(needle)


def by_name(slos: list[SloSpec]) -> dict[str, SloSpec]:
    return {s.name: s for s in slos}


# -- meshsim format ----------------------------------------------------------------


def test_meshsim_format_file() -> None:
    path = DATA / "meshsim-slos.yaml"
    result = read_slo_file(path)
    slos = by_name(result.slos)
    assert list(slos) == [
        "browse-p99",
        "browse-errors",
        "cart-availability",
        "checkout-throughput",
        "cart-amplification",
    ]
    assert slos["browse-p99"].max == pytest.approx(0.3)
    assert slos["cart-availability"].min == 0.999
    assert slos["checkout-throughput"].min == pytest.approx(100.0)
    assert result.warnings == []
    assert result.lines["browse-p99"] == line_of(path, "name: browse-p99")
    assert result.lines["checkout-throughput"] == line_of(path, "- name: checkout-throughput")


# -- OpenSLO -------------------------------------------------------------------------


def test_openslo_threshold_maps_target_to_a_latency_percentile() -> None:
    path = DATA / "openslo-threshold.yaml"
    result = read_slo_file(path)
    slos = result.slos
    assert [(s.name, s.workload, s.metric) for s in slos] == [
        ("browse-latency/p99 under 400ms", "browse", "latency_p99"),
        ("browse-latency/median under 50ms", "browse", "latency_p50"),
    ]
    assert slos[0].max == pytest.approx(0.400) and slos[1].max == pytest.approx(0.050)
    assert [w.field for w in result.warnings] == ["spec.timeWindow"]
    assert result.warnings[0].line == line_of(path, "timeWindow:")
    assert result.lines[slos[0].name] == line_of(path, "- displayName: p99 under 400ms")


def test_openslo_ratio_good_total_and_bad_total() -> None:
    path = DATA / "openslo-ratio.yaml"
    result = read_slo_file(path)
    slos = by_name(result.slos)
    cart = slos["cart-availability"]
    assert (cart.service, cart.metric, cart.min) == ("cart", "availability", 0.999)
    errors = slos["browse-errors"]
    assert (errors.workload, errors.metric) == ("browse", "error_rate")
    assert errors.max == pytest.approx(0.005)
    fields = [w.field for w in result.warnings]
    assert fields == [
        "spec.timeWindow",
        "spec.budgetingMethod",
        "spec.objectives[0].timeSliceTarget",
        "spec.objectives[0].timeSliceWindow",
        "spec.alertPolicies",
    ]
    assert all(w.file == str(path) and w.line for w in result.warnings)
    assert "Timeslices" in result.warnings[1].message


def test_openslo_raw_with_indicator_ref_and_skipped_prometheus_source() -> None:
    path = DATA / "openslo-raw-ref.yaml"
    result = read_slo_file(path)
    slos = by_name(result.slos)
    assert set(slos) == {"checkout-availability", "checkout-p999"}
    avail = slos["checkout-availability"]
    assert (avail.workload, avail.metric, avail.min) == ("checkout", "availability", 0.995)
    p999 = slos["checkout-p999"]
    assert (p999.metric, p999.max) == ("latency_p999", pytest.approx(1.5))
    messages = [w.render() for w in result.warnings]
    assert any("'Prometheus' cannot be simulated" in m and "checkout-prod-latency" in m for m in messages)
    assert any("AlertPolicy" in m for m in messages)
    prom = next(w for w in result.warnings if "Prometheus" in w.message)
    assert prom.line == line_of(path, "type: Prometheus")


def test_load_slo_file_issues_each_unsupported_field_as_a_warning() -> None:
    with pytest.warns(SloFileWarning) as record:
        slos = load_slo_file(DATA / "openslo-ratio.yaml")
    assert len(slos) == 2
    text = "\n".join(str(w.message) for w in record)
    for field in ("timeWindow", "budgetingMethod", "timeSliceTarget", "timeSliceWindow", "alertPolicies"):
        assert field in text


def test_mixed_meshsim_and_openslo_documents_in_one_file() -> None:
    text = textwrap.dedent(
        """\
        slos:
          - {name: a, workload: w, metric: latency_p90, max: 1s}
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: b}
        spec:
          service: cart
          indicator:
            metadata: {name: b-sli}
            spec:
              ratioMetric:
                raw: {metricSource: {type: meshsim}}
                rawType: failure
          objectives: [{target: 0.99}]
        """
    )
    result = parse_slo_text(text, "mixed.yaml")
    a, b = result.slos
    assert (a.name, a.metric) == ("a", "latency_p90")
    # No workload/service in the source: the SLO's spec.service names the meshsim service.
    assert (b.service, b.metric, b.max) == ("cart", "error_rate", pytest.approx(0.01))
    assert result.lines == {"a": 2, "b": 15}


# -- errors: file, line and field ----------------------------------------------------


def errors_of(text: str, name: str = "bad.yaml") -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(MeshsimInputError) as info:
        parse_slo_text(textwrap.dedent(text), name)
    assert all(p.file == name for p in info.value.problems)
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_meshsim_format_errors_are_located() -> None:
    problems = errors_of(
        """\
        slos:
          - {name: ok, workload: w, metric: latency_p99, max: 300ms}
          - name: typo
            workload: w
            metric: latency_p95
            max: 300ms
          - name: nounit
            workload: w
            metric: latency_p99
            max: 300
          - {name: both, workload: w, service: s, metric: error_rate, max: 1%}
          - {name: extra, workload: w, metric: error_rate, max: 1%, window: 5m}
          - just-a-string
        """
    )
    located = {(line, field) for line, field, _ in problems}
    assert (5, "slos[1].metric") in located
    assert (10, "slos[2].max") in located
    assert (11, "slos[3]") in located
    assert (12, "slos[4].window") in located
    assert (13, "slos[5]") in located
    messages = " | ".join(m for _, _, m in problems)
    assert "give a unit" in messages and "exactly one of workload or service" in messages


def test_rendered_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text("slos:\n  - {name: x, workload: w, metric: error_rate, max: 120%}\n")
    with pytest.raises(MeshsimInputError) as info:
        read_slo_file(path)
    assert str(info.value).startswith(f"{path}:2: slos[0].max: ")
    assert "between 0 and 1" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "field", "needle"),
    [
        ("slos:\n  - {name: a, workload: w\n  metric: x}\n", 3, None, "YAML syntax"),
        (
            "slos:\n  - {name: a, workload: w, metric: error_rate, max: 1%}\n"
            "  - {name: a, workload: w, metric: error_rate, max: 2%}\n",
            3,
            "name",
            "duplicate SLO",
        ),
        ("services: {}\nslos: []\n", 1, "services", "unknown top-level key"),
        ("slos: {name: a}\n", 1, "slos", "must be a list"),
        ("- 1\n- 2\n", 1, None, "not an SLO document"),
        ("slos: []\n", 1, None, "no SLO that meshsim can evaluate"),
    ],
)
def test_file_level_errors(text: str, line: int, field: str | None, needle: str) -> None:
    problems = errors_of(text)
    assert (problems[0][0], problems[0][1]) == (line, field)
    assert needle in problems[0][2]


OPENSLO_HEAD = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: s}
spec:
  indicator:
    metadata: {name: i}
    spec:
"""


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        # target that is no percentile meshsim reports
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {op: lt, value: 400, target: 0.95}\n",
            "spec.objectives[0].target",
            "0.5, 0.9, 0.99 or 0.999",
        ),
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {op: gt, value: 400, target: 0.99}\n",
            "spec.objectives[0].op",
            "lt or lte",
        ),
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {op: lt, value: 400, target: 0.99, targetPercent: 99}\n",
            "spec.objectives[0]",
            "exactly one of target or targetPercent",
        ),
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {op: lt, value: 400, targetPercent: 120}\n",
            "spec.objectives[0].targetPercent",
            "[0, 100)",
        ),
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w, "
            "metric: latency_p50}}}\n  objectives:\n    - {op: lt, value: 400, target: 0.99}\n",
            "spec.objectives[0].target",
            "latency_p99",
        ),
        (
            "      ratioMetric:\n        good: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {target: 0.99}\n",
            "ratioMetric.total",
            "total is required",
        ),
        (
            "      ratioMetric:\n        good: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "        total: {metricSource: {type: meshsim, spec: {workload: v}}}\n"
            "  objectives:\n    - {target: 0.99}\n",
            "ratioMetric.total",
            "total counts workload 'v'",
        ),
        (
            "      ratioMetric:\n        raw: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "        rawType: bogus\n  objectives:\n    - {target: 0.99}\n",
            "ratioMetric.rawType",
            "success or failure",
        ),
        (
            "      ratioMetric:\n        good: {metricSource: {type: meshsim, spec: {wrkload: w}}}\n"
            "        total: {metricSource: {type: meshsim}}\n  objectives:\n    - {target: 0.9}\n",
            "ratioMetric.good.metricSource.spec.wrkload",
            "unknown field",
        ),
        (
            "      thresholdMetric: {metricSource: {type: meshsim, spec: {workload: w}}}\n"
            "  objectives:\n    - {op: lt, value: 400, target: 0.99, tagret: 1}\n",
            "spec.objectives[0].tagret",
            "unknown field",
        ),
    ],
)
def test_openslo_errors_name_the_field_and_line(body: str, field: str, needle: str) -> None:
    text = OPENSLO_HEAD + body
    (problem,) = errors_of(text)
    line, got_field, message = problem
    assert got_field == field
    assert needle in message
    key = field.rsplit(".", 1)[-1].split("[")[0]
    lines = text.splitlines()
    assert line is not None and 1 <= line <= len(lines)
    if key in text:  # a present field is pointed at exactly; a missing one at its parent
        assert key in lines[line - 1] or key == "objectives", (line, lines[line - 1])
    else:
        assert line > OPENSLO_HEAD.count("\n")


def test_openslo_document_level_errors() -> None:
    (api,) = errors_of("apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: x}\nspec: {}\n")
    assert api[:2] == (1, "apiVersion") and "openslo/v1" in api[2]
    (ref,) = errors_of(
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n"
        "  indicatorRef: nowhere\n  objectives: [{target: 0.9}]\n"
    )
    assert ref[:2] == (5, "spec.indicatorRef") and "no SLI document" in ref[2]
    (kind,) = errors_of("apiVersion: openslo/v1\nkind: Widget\nmetadata: {name: x}\n")
    assert kind[:2] == (2, "kind") and "unknown OpenSLO kind" in kind[2]


def test_only_unsimulatable_slos_is_an_error_that_keeps_the_warnings() -> None:
    problems = errors_of(
        OPENSLO_HEAD + "      thresholdMetric: {metricSource: {type: datadog, spec: {query: q}}}\n"
        "  objectives:\n    - {op: lt, value: 400, target: 0.99}\n"
    )
    messages = [m for _, _, m in problems]
    assert "no SLO that meshsim can evaluate" in messages[0]
    assert any("'datadog' cannot be simulated" in m for m in messages)


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(MeshsimInputError, match="SLO file not found") as info:
        read_slo_file(tmp_path / "nope.yaml")
    assert info.value.problems[0].file == str(tmp_path / "nope.yaml")


def test_slo_lines_in_a_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "name: demo\nservices: {}\nslos:\n"
        "  - {name: browse-p99, workload: browse, metric: latency_p99, max: 300ms}\n"
        "  - name: cart-availability\n    service: cart\n"
    )
    assert slo_lines_in_yaml(path) == {"browse-p99": 4, "cart-availability": 5}
    assert slo_lines_in_yaml(tmp_path / "missing.yaml") == {}
    (tmp_path / "broken.yaml").write_text("slos: [\n")
    assert slo_lines_in_yaml(tmp_path / "broken.yaml") == {}


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.append(prefix + (key,))
        out += _paths(value, prefix + (key,))
    return out


def test_mangled_example_files_give_input_errors_never_tracebacks() -> None:
    # Replace or delete one random node of an example file at a time (seeded) and
    # require either a successful parse or a MeshsimInputError: never another exception.
    import io

    import numpy as np
    from ruamel.yaml import YAML

    rng = np.random.default_rng(20240501)
    replacements: list[object] = [None, 5, -1, True, "x", [], [1, 2], {}, {"a": 1}, "300ms", 0.95]
    files = sorted(DATA.glob("*.yaml"))
    outcomes = {"ok": 0, "error": 0}
    for trial in range(160):
        yaml = YAML(typ="rt")
        docs = list(yaml.load_all(files[trial % len(files)].read_text(encoding="utf-8")))
        spots = [(d, p) for d, doc in enumerate(docs) for p in _paths(doc)]
        d, path = spots[int(rng.integers(len(spots)))]
        parent = docs[d]
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacements[int(rng.integers(len(replacements)))]
        buf = io.StringIO()
        yaml.dump_all(docs, buf)
        try:
            parse_slo_text(buf.getvalue(), "mangled.yaml")
            outcomes["ok"] += 1
        except MeshsimInputError as exc:
            assert exc.problems and all(p.file == "mangled.yaml" for p in exc.problems)
            outcomes["error"] += 1
    assert outcomes["error"] > 40  # the mangling really does break files
