"""JUnit XML: parses, and has the structure of the JUnit XSD that CI systems read.

Structure checked (Apache Ant / Jenkins JUnit XSD, as summarised in
the conventions in docs/ci-gate.md): a ``testsuite`` with integer
``tests``/``failures``/``errors``/``skipped`` and decimal ``time``; ``testcase``
with ``name``/``classname``/``time``; inside a case, ``failure``/``error``/
``skipped`` come before ``system-out``/``system-err``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from meshsim.errors import MeshsimInputError
from meshsim.gate import junit_xml, write_junit
from meshsim.scenario import SloSpec
from meshsim.slo import METRICS_COLUMNS, SloVerdict, evaluate_slos

_RESULT = ("failure", "error", "skipped")
_OUTPUT = ("system-out", "system-err")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def check_junit_structure(root: ET.Element) -> list[ET.Element]:
    """Assert the JUnit XSD's structure; return the test cases."""
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert root.tag in ("testsuite", "testsuites")
    assert len(suites) == 1, "one test suite"
    suite = suites[0]
    for attr in ("tests", "failures", "errors", "skipped"):
        assert int(suite.get(attr, "x")) >= 0, attr
    assert float(suite.get("time", "x")) >= 0
    assert suite.get("name")
    assert _TIMESTAMP.match(suite.get("timestamp", "")), "XSD timestamp has no zone"
    children = [c.tag for c in suite]
    assert set(children) <= {"properties", "testcase", "system-out", "system-err"}
    if "properties" in children:
        assert children.index("properties") == 0
        for prop in suite.iterfind("properties/*"):
            assert prop.tag == "property"
            assert prop.get("name") is not None and "value" in prop.attrib
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases)
    failures = errors = skipped = 0
    for case in cases:
        assert case.get("name") and case.get("classname") is not None
        assert float(case.get("time", "x")) >= 0
        tags = [c.tag for c in case]
        assert set(tags) <= set(_RESULT + _OUTPUT)
        results = [i for i, t in enumerate(tags) if t in _RESULT]
        outputs = [i for i, t in enumerate(tags) if t in _OUTPUT]
        assert len(results) <= 1
        assert all(r < o for r in results for o in outputs), "failure must precede system-out"
        for child in case:
            if child.tag in ("failure", "error"):
                assert child.get("message") and child.get("type")
        failures += tags.count("failure")
        errors += tags.count("error")
        skipped += tags.count("skipped")
    assert (int(suite.get("failures", "-1")), int(suite.get("errors", "-1")), int(suite.get("skipped", "-1"))) == (
        failures,
        errors,
        skipped,
    )
    if root.tag == "testsuites" and "tests" in root.attrib:
        assert int(root.get("tests", "-1")) == len(cases)
        assert int(root.get("failures", "-1")) == failures
    return cases


def verdicts(allow: bool = False) -> list[SloVerdict]:
    slos = [
        SloSpec(name="browse-p99", workload="browse", metric="latency_p99", max="300ms"),
        SloSpec(name="browse-p50", workload="browse", metric="latency_p50", max="100ms"),
        SloSpec(name="cart-availability", service="cart", metric="availability", min="99.9%"),
    ]
    rows = []
    for rep, (p99, p50, avail) in enumerate([(0.45, 0.05, 0.9985), (0.46, 0.06, 0.9995), (0.44, 0.05, 0.9990)]):
        rows += [
            (rep, "workload", "browse", "latency_p99", p99),
            (rep, "workload", "browse", "latency_p50", p50),
            (rep, "service", "cart", "availability", avail),
        ]
    metrics = pd.DataFrame(rows, columns=list(METRICS_COLUMNS))
    return evaluate_slos(slos, metrics, allow_inconclusive=allow)


WHEN = dt.datetime(2024, 5, 1, 12, 30, 0, tzinfo=dt.UTC)


def test_junit_parses_and_has_the_xsd_structure(tmp_path: Path) -> None:
    vs = verdicts()
    assert [v.status for v in vs] == ["missed", "met", "inconclusive"]
    out = tmp_path / "reports" / "meshsim.xml"
    write_junit(
        vs,
        out,
        "checkout-multicloud",
        WHEN,
        source_file="scenario.yaml",
        slo_lines={"browse-p99": 40, "cart-availability": 42},
        properties={"seed": 7},
    )
    root = ET.parse(out).getroot()
    cases = check_junit_structure(root)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert suite.get("timestamp") == "2024-05-01T12:30:00"
    assert [c.get("name") for c in cases] == ["browse-p99", "browse-p50", "cart-availability"]
    assert {c.get("classname") for c in cases} == {"checkout-multicloud"}
    assert [c.get("line") for c in cases] == ["40", None, "42"]
    assert all(c.get("file") == "scenario.yaml" for c in cases)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"confidence": "0.95", "seed": "7"}


def test_failures_carry_value_limit_and_interval() -> None:
    root = ET.fromstring(junit_xml(verdicts(), "s", WHEN))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    missed = cases["browse-p99"].find("failure")
    assert missed is not None and missed.get("type") == "SLOViolation"
    message = missed.get("message", "")
    assert "450.0 ms" in message and "<= 300.0 ms" in message and "95% CI [" in message
    assert "interval: 95% [" in (missed.text or "") and "limit: <= 300.0 ms" in (missed.text or "")
    unsure = cases["cart-availability"].find("failure")
    assert unsure is not None and unsure.get("type") == "SLOInconclusive"
    assert cases["browse-p50"].find("failure") is None
    assert [c.tag for c in cases["browse-p99"]] == ["failure", "system-out"]


def test_allowed_inconclusive_is_a_passing_case_with_a_note() -> None:
    root = ET.fromstring(junit_xml(verdicts(allow=True), "s", WHEN))
    check_junit_structure(root)
    case = next(c for c in root.iter("testcase") if c.get("name") == "cart-availability")
    assert case.find("failure") is None and case.find("skipped") is None
    out = case.find("system-out")
    assert out is not None and "--allow-inconclusive" in (out.text or "")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_hostile_names_still_give_well_formed_xml() -> None:
    v = verdicts()[0]
    odd = dataclasses.replace(v, name='p99 <"&> \x07bell')
    root = ET.fromstring(junit_xml([odd], 'scen "x" & <y>', "2024-01-01T00:00:00"))
    check_junit_structure(root)
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == 'p99 <"&> ?bell'


def test_empty_run_is_still_a_valid_suite() -> None:
    root = ET.fromstring(junit_xml([], "s", WHEN))
    assert check_junit_structure(root) == []


def test_default_timestamp_is_now_in_utc() -> None:
    root = ET.fromstring(junit_xml(verdicts(), "s"))
    stamp = root.find("testsuite").get("timestamp")  # type: ignore[union-attr]
    when = dt.datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 120


def test_unwritable_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(MeshsimInputError, match="cannot write .*: is a folder") as info:
        write_junit(verdicts(), tmp_path, "s", WHEN)  # a directory, not a file
    assert info.value.problems[0].field == "--junit"
