"""The scenario file: format (SPEC 2), loading with line-numbered errors, JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from .loader import load_scenario, scenario_from_dict
from .models import Scenario
from .policies import PolicySpec, ServicePolicySpec
from .types import DistSpec

__all__ = [
    "Scenario",
    "load_scenario",
    "scenario_from_dict",
    "json_schema",
    "PolicySpec",
    "ServicePolicySpec",
    "DistSpec",
]


def json_schema() -> dict[str, Any]:
    """The scenario's JSON Schema (draft 2020-12), for editors and `meshsim schema`."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    for internal in ("source_file", "import_origins", "import_warnings"):
        schema.get("properties", {}).pop(internal, None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "meshsim scenario"
    return schema


def json_schema_text() -> str:
    """The JSON Schema as indented text."""
    return json.dumps(json_schema(), indent=2, sort_keys=True)
