"""App Mesh resources inside a CloudFormation template, as the API's own JSON shapes.

Most App Mesh walkthroughs declare the mesh in CloudFormation: ``Type: AWS::AppMesh::Route``
with ``Properties: {VirtualRouterName, RouteName, Spec: {HttpRoute: ...}}``. Those
properties are the App Mesh API's fields with a capital first letter
(``HttpRoute`` = ``httpRoute``, ``AWSCloudMap`` = ``awsCloudMap``), so each resource is
turned into the API form the importer already reads, keeping every line number.
Intrinsic functions in names resolve where they can: ``!Sub`` keeps its text (the
``${VAR}`` placeholders become dummy names), ``!Ref X`` names parameter X, and
``!GetAtt R.Attr`` takes resource R's property.
"""

from __future__ import annotations

import re
from typing import Any

from meshsim.yamlio import LineList, LineMap

__all__ = ["API_NAME_KEY", "is_template", "resources", "to_api"]

#: CloudFormation resource type -> (API object kind, the key that names it in the API form).
API_NAME_KEY: dict[str, tuple[str, str]] = {
    "AWS::AppMesh::Route": ("Route", "routeName"),
    "AWS::AppMesh::VirtualNode": ("VirtualNode", "virtualNodeName"),
    "AWS::AppMesh::VirtualRouter": ("VirtualRouter", "virtualRouterName"),
    "AWS::AppMesh::VirtualService": ("VirtualService", "virtualServiceName"),
    "AWS::AppMesh::VirtualGateway": ("VirtualGateway", "virtualGatewayName"),
    "AWS::AppMesh::GatewayRoute": ("GatewayRoute", "gatewayRouteName"),
    "AWS::AppMesh::Mesh": ("Mesh", "meshName"),
}

_ACRONYM = re.compile(r"^([A-Z]+)([A-Z][a-z].*)$")


def is_template(data: Any) -> bool:
    """A CloudFormation template: a ``Resources`` mapping whose entries have an ``AWS::`` ``Type``."""
    if not isinstance(data, dict):
        return False
    res = data.get("Resources")
    if not isinstance(res, dict) or not res:
        return "AWSTemplateFormatVersion" in data
    return any(isinstance(r, dict) and str(r.get("Type", "")).startswith(("AWS::", "Custom::")) for r in res.values())


def resources(data: dict[str, Any]) -> list[tuple[str, str, Any, int]]:
    """``(logical id, type, resource, line)`` of every resource in the template."""
    res = data.get("Resources")
    if not isinstance(res, dict):
        return []
    lines = getattr(res, "lines", {})
    return [(str(k), str(v.get("Type", "")), v, lines.get(k, 1)) for k, v in res.items() if isinstance(v, dict)]


def _api_key(key: Any) -> Any:
    """``HttpRoute`` -> ``httpRoute``; ``AWSCloudMap`` -> ``awsCloudMap``; ``DNS`` -> ``dns``."""
    if not isinstance(key, str) or not key or not key[0].isupper():
        return key
    m = _ACRONYM.match(key)
    if m:
        return m.group(1).lower() + m.group(2)
    if key.isupper():
        return key.lower()
    return key[0].lower() + key[1:]


def _camel(node: Any, names: dict[str, Any]) -> Any:
    """A copy with API key names; lines kept; name references resolved."""
    if isinstance(node, dict):
        if len(node) == 1:
            resolved = _intrinsic(node, names)
            if resolved is not None:
                return resolved
        out = LineMap()
        out.line = getattr(node, "line", 0)
        src_lines = getattr(node, "lines", {})
        for k, v in node.items():
            nk = _api_key(k)
            out[nk] = _camel(v, names)
            if k in src_lines:
                out.lines[nk] = src_lines[k]
        return out
    if isinstance(node, list):
        items = LineList(_camel(v, names) for v in node)
        items.line = getattr(node, "line", 0)
        items.lines = list(getattr(node, "lines", []))
        return items
    if isinstance(node, str):
        return _attribute(node, names)
    return node


def _intrinsic(node: dict[str, Any], names: dict[str, Any]) -> Any:
    """The text of ``{Ref: X}``, ``{Fn::Sub: "..."}`` or ``{Fn::GetAtt: [R, Attr]}`` (None for others)."""
    ((key, value),) = node.items()
    if key == "Ref" and isinstance(value, str):
        return names.get(value, value)
    if key == "Fn::Sub":
        return value if isinstance(value, str) else (value[0] if isinstance(value, list) and value else None)
    if key == "Fn::GetAtt":
        parts = value.split(".", 1) if isinstance(value, str) else value
        if isinstance(parts, list) and len(parts) == 2:
            return _attribute(f"{parts[0]}.{parts[1]}", names)
    return None


def _attribute(text: str, names: dict[str, Any]) -> Any:
    """``ColorRouter.VirtualRouterName`` (an inert ``!GetAtt``) -> that resource's property."""
    if "." in text:
        logical, _, attr = text.partition(".")
        props = names.get(f"{logical}.")
        if isinstance(props, dict) and isinstance(props.get(attr), str):
            return props[attr]
    return text


def to_api(data: dict[str, Any], logical: str, rtype: str, resource: Any) -> tuple[dict[str, Any], str] | None:
    """One App Mesh resource as the API's JSON form, with its kind; None for other resources."""
    if rtype not in API_NAME_KEY:
        return None
    kind, name_key = API_NAME_KEY[rtype]
    names: dict[str, Any] = {}
    params = data.get("Parameters")
    if isinstance(params, dict):
        for pname, p in params.items():
            default = p.get("Default") if isinstance(p, dict) else None
            names[str(pname)] = default if isinstance(default, str) else str(pname)
    for lid, _, res, _ in resources(data):
        props = res.get("Properties")
        if isinstance(props, dict):
            names[f"{lid}."] = props
    props = resource.get("Properties")
    if not isinstance(props, dict):
        props = LineMap()
    api = _camel(props, names)
    if not isinstance(api.get(name_key), str):
        api[name_key] = logical  # an unresolved intrinsic: the logical id names it
    return api, kind
