"""JUnit XML for CI systems: one test suite, one test case per SLO.

The layout follows the JUnit XSD that Jenkins, GitLab, GitHub test reporters
and ``junitparser`` read: ``<testsuites>`` holding one ``<testsuite>`` (with
``tests``/``failures``/``errors``/``skipped``/``time``/``timestamp``), then one
``<testcase name classname time [file line]>`` per SLO. A missed SLO carries
``<failure type="SLOViolation">``, an inconclusive one ``type="SLOInconclusive"``
(unless inconclusive results were allowed: then the case passes and its
``<system-out>`` says so). ``<failure>`` comes before ``<system-out>``, as the
XSD's sequence requires. Written with the standard library only.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from meshsim.errors import write_output
from meshsim.slo import (
    SloVerdict,
    count_passed_failed,
    describe,
    format_interval,
    format_limit,
    format_value,
    inconclusive_text,
)

__all__ = ["junit_element", "junit_xml", "write_junit"]

# Characters XML 1.0 cannot carry even escaped; names come from user YAML.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _XML_ILLEGAL.sub("?", str(text))


def _timestamp(value: dt.datetime | str | None) -> str:
    # The JUnit XSD's timestamp has no time zone; we write UTC.
    if value is None:
        value = dt.datetime.now(dt.UTC)
    if isinstance(value, str):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _details(v: SloVerdict) -> str:
    level = f"{v.confidence * 100:g}%"
    lines = [
        f"slo: {v.name}",
        f"{v.scope}: {v.target}",
        f"metric: {v.metric}",
        f"status: {v.status}" + (f" ({inconclusive_text(v)})" if v.status == "inconclusive" else ""),
        f"value: {format_value(v.metric, v.value)} (mean over replications)",
        f"interval: {level} {format_interval(v)}" if v.has_interval else "interval: none",
        f"limit: {format_limit(v)}",
        f"replications: {v.replications}",
    ]
    if v.note:
        lines.append(f"note: {v.note}")
    return "\n".join(lines)


def junit_element(
    verdicts: Sequence[SloVerdict],
    scenario_name: str,
    timestamp: dt.datetime | str | None = None,
    *,
    time_s: float = 0.0,
    source_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
    properties: Mapping[str, object] | None = None,
) -> ET.Element:
    """Build the ``<testsuites>`` element (see module docstring for the layout).

    ``time_s`` is the suite's wall time (e.g. the simulation's), in seconds.
    ``source_file``/``slo_lines`` (SLO name -> 1-based line) add ``file``/``line``
    to each test case. ``properties`` become ``<property name value>`` entries.
    """
    _, failed = count_passed_failed(verdicts)
    counts = {
        "tests": str(len(verdicts)),
        "failures": str(failed),
        "errors": "0",
        "skipped": "0",
        "time": f"{time_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "meshsim check", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _clean(scenario_name),
            **counts,
            "timestamp": _timestamp(timestamp),
            "hostname": "meshsim",
        },
    )
    props = ET.SubElement(suite, "properties")
    merged: dict[str, object] = {}
    if verdicts:
        merged["confidence"] = verdicts[0].confidence
    merged.update(properties or {})
    for key, value in merged.items():
        ET.SubElement(props, "property", {"name": _clean(key), "value": _clean(value)})
    lines = slo_lines or {}
    for v in verdicts:
        attrs = {"name": _clean(v.name), "classname": _clean(scenario_name), "time": "0.000"}
        if source_file:
            attrs["file"] = _clean(source_file)
            if v.name in lines:
                attrs["line"] = str(lines[v.name])
        case = ET.SubElement(suite, "testcase", attrs)
        details = _clean(_details(v))
        if not v.met:
            kind = "SLOInconclusive" if v.status == "inconclusive" else "SLOViolation"
            failure = ET.SubElement(case, "failure", {"message": _clean(describe(v)), "type": kind})
            failure.text = details
        out = ET.SubElement(case, "system-out")
        out.text = details
    return root


def junit_xml(
    verdicts: Sequence[SloVerdict],
    scenario_name: str,
    timestamp: dt.datetime | str | None = None,
    *,
    time_s: float = 0.0,
    source_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
    properties: Mapping[str, object] | None = None,
) -> str:
    """Return the JUnit document as a string with XML declaration (see junit_element)."""
    root = junit_element(
        verdicts,
        scenario_name,
        timestamp,
        time_s=time_s,
        source_file=source_file,
        slo_lines=slo_lines,
        properties=properties,
    )
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_junit(
    verdicts: Sequence[SloVerdict],
    path: str | Path,
    scenario_name: str,
    timestamp: dt.datetime | str | None = None,
    *,
    time_s: float = 0.0,
    source_file: str | None = None,
    slo_lines: Mapping[str, int] | None = None,
    properties: Mapping[str, object] | None = None,
) -> None:
    """Write the JUnit XML file, creating its folder; a bad path is a MeshsimInputError."""
    text = junit_xml(
        verdicts,
        scenario_name,
        timestamp,
        time_s=time_s,
        source_file=source_file,
        slo_lines=slo_lines,
        properties=properties,
    )
    write_output(path, text, what="JUnit XML", field="--junit")
