"""The scenario file: its models, loading with line-numbered errors, and the effective policy of an edge.

>>> scenario = load_scenario("models/minimal.yaml")     # doctest: +SKIP
>>> scenario.call_steps("frontend")                        # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

from meshsim.scenario._client import BACKOFF_KINDS, CLIENT_MODES
from meshsim.scenario._effective import EffectivePolicy, OutlierParams, resolve_policy
from meshsim.scenario._loader import line_of, load_scenario, scenario_from_dict
from meshsim.scenario._models import (
    Autoscaling,
    CallSpec,
    CallStep,
    Fault,
    Link,
    Scenario,
    Service,
    ServiceVersion,
    Workload,
)
from meshsim.scenario._policies import LoadBalancerSpec, PolicySpec, ServicePolicySpec
from meshsim.scenario._rollout import ArgoStep, Rollout
from meshsim.scenario._slo import LATENCY_METRICS, METRIC_KIND, SLO_METRICS, SloSpec
from meshsim.scenario._types import DistSpec, error_codes

__all__ = [
    "BACKOFF_KINDS",
    "CLIENT_MODES",
    "LATENCY_METRICS",
    "METRIC_KIND",
    "SLO_METRICS",
    "ArgoStep",
    "Autoscaling",
    "CallSpec",
    "CallStep",
    "DistSpec",
    "EffectivePolicy",
    "Fault",
    "Link",
    "LoadBalancerSpec",
    "OutlierParams",
    "PolicySpec",
    "Rollout",
    "Scenario",
    "Service",
    "ServicePolicySpec",
    "ServiceVersion",
    "SloSpec",
    "Workload",
    "error_codes",
    "json_schema",
    "json_schema_text",
    "line_of",
    "load_scenario",
    "resolve_policy",
    "scenario_from_dict",
]


def json_schema() -> dict[str, Any]:
    """The scenario's JSON Schema (draft 2020-12), for editors and ``meshsim schema``."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    for internal in ("source_file", "import_origins", "import_warnings"):
        schema.get("properties", {}).pop(internal, None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "meshsim scenario"
    return schema


def json_schema_text() -> str:
    """The JSON Schema as indented text."""
    return json.dumps(json_schema(), indent=2, sort_keys=True)
