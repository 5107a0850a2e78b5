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
    """A copy with API key names; lines kept; intrinsic functions evaluated where they can be."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in _INTRINSICS:
            return _eval(node, names, 0)
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
        return _eval(node, names, 0)
    return node


_INTRINSICS = frozenset({"Ref", "Fn::Sub", "Fn::Join", "Fn::GetAtt", "Fn::ImportValue", "Fn::Select", "Fn::If"})
_SUB = re.compile(r"\$\{([A-Za-z0-9_:]+)(?:\.([A-Za-z0-9_]+))?\}")


def _eval(node: Any, names: dict[str, Any], depth: int) -> Any:
    """The text an intrinsic function stands for ("" when the template does not spell it out).

    ``!Ref P`` is parameter P's default, ``!Ref R`` resource R's name property; ``!GetAtt R.A``
    is R's property A; ``!Sub`` substitutes both forms; ``!Join`` joins; ``!ImportValue X``
    stands for the export's name X (its value lives in another stack).
    """
    if depth > 8:
        return ""
    if isinstance(node, str):
        if node in names and not node.endswith(".") or f"{node}." in names:
            return _lookup(node, None, names, depth)  # an inert !Ref
        if "." in node and not any(c.isspace() for c in node):
            logical, _, attr = node.partition(".")
            if isinstance(names.get(f"{logical}."), dict) and attr.isidentifier():
                return _eval(names[f"{logical}."].get(attr, ""), names, depth + 1)  # an inert !GetAtt
        return _SUB.sub(lambda m: str(_lookup(m.group(1), m.group(2), names, depth)), node)
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        return ""
    ((key, value),) = node.items()
    if key == "Ref" and isinstance(value, str):
        return _lookup(value, None, names, depth)
    if key == "Fn::Sub":
        text = value[0] if isinstance(value, list) and value else value
        return _eval(text, names, depth + 1) if isinstance(text, str) else ""
    if key == "Fn::Join" and isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        return str(value[0]).join(str(_eval(v, names, depth + 1)) for v in value[1])
    if key == "Fn::GetAtt":
        parts = value.split(".", 1) if isinstance(value, str) else value
        if isinstance(parts, list) and len(parts) == 2:
            return _lookup(str(parts[0]), str(parts[1]), names, depth)
    if key == "Fn::ImportValue":
        return _eval(value, names, depth + 1)
    return ""


def _lookup(name: str, attr: str | None, names: dict[str, Any], depth: int) -> Any:
    """Parameter ``name``'s default, or resource ``name``'s property ``attr`` (its name property when None)."""
    props = names.get(f"{name}.")
    if isinstance(props, dict):
        if attr is not None:
            return _eval(props.get(attr, ""), names, depth + 1)
        for key, value in props.items():
            if str(key).endswith("Name") and key != "MeshName":
                return _eval(value, names, depth + 1)
        return ""
    if attr is None and name in names:
        return names[name]
    return name.lower().replace("_", "-").replace("::", "-")  # an unknown parameter: a dummy, like ${VAR}


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
            names[str(pname)] = default if isinstance(default, (str, int, float)) else str(pname)
    for lid, _, res, _ in resources(data):
        props = res.get("Properties")
        if isinstance(props, dict):
            names[f"{lid}."] = props
    props = resource.get("Properties")
    if not isinstance(props, dict):
        props = LineMap()
    api = _camel(props, names)
    if not isinstance(api.get(name_key), str) or not api[name_key]:
        api[name_key] = logical  # an unresolved intrinsic: the logical id names it
    return api, kind
