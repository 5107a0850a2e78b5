"""Load a scenario file: safe YAML with line numbers -> pydantic -> cross-reference checks.

Every problem becomes one :class:`~meshsim.errors.InputProblem` naming file, line
and field, so the CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from meshsim.errors import STDIN, InputProblem, MeshsimInputError, os_reason, read_input_text
from meshsim.meshes import MESH_WIDE, apply_mesh_wide, import_mesh_config, iter_files, match_localities, preset
from meshsim.scenario._models import ImportSpec, Scenario
from meshsim.yamlio import LineList, LineMap, locate, read_yaml

__all__ = ["line_of", "load_scenario", "scenario_from_dict"]


def line_of(file: str | None, loc: tuple[Any, ...]) -> int | None:
    """The line of field ``loc`` in a scenario file (None when unknown): for errors raised after loading."""
    if not file or file in ("<string>", "<stdin>"):
        return None
    try:
        tree = read_yaml(read_input_text(file), file)
    except MeshsimInputError:
        return None
    return locate(tree, loc)[0]


def _field_path(loc: tuple[Any, ...], tree: Any) -> str:
    parts: list[str] = []
    node = tree
    for key in loc:
        if (
            isinstance(node, LineMap)
            and key in node
            or isinstance(node, LineList)
            and isinstance(key, int)
            and 0 <= key < len(node)
        ):
            node = node[key]
            parts.append(str(key))
        elif (
            isinstance(key, str)
            and not key[:1].isupper()
            and "[" not in key
            and key
            not in (
                "function-after",
                "function-before",
                "function-plain",
                "function-wrap",
            )
            # a field that is missing in the file (e.g. 'Field required'), not a type tag
            and key not in ("str", "int", "float", "CallSpec", "ParallelSpec")
        ):
            parts.append(key)
    return ".".join(parts)


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of an extra field, for did-you-mean."""
    model: Any = Scenario
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or key not in fields and key not in {f.alias for f in fields.values()}:
            # dict values and unions: try to find a model among the annotation's args
            continue
        field = fields.get(key) or next(f for f in fields.values() if f.alias == key)
        model = _first_model(field.annotation) or model
    fields = getattr(model, "model_fields", {})
    names = [f.alias or n for n, f in fields.items() if not f.exclude]
    return names if issubclass(model, BaseModel) else []


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _problems_from_validation(exc: ValidationError, tree: Any, file: str | None) -> list[InputProblem]:
    problems: list[InputProblem] = []
    seen: set[tuple[int | None, str]] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        line, col = locate(tree, loc)
        field = _field_path(loc, tree)
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            options = _known_fields(loc)
            close = difflib.get_close_matches(name, options, n=1)
            msg = f"unknown field '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")
            if options:
                msg += f" (allowed: {', '.join(sorted(options))})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        key = (line, field)
        if key in seen:
            continue  # a union reports one problem per member; keep the first
        seen.add(key)
        problems.append(InputProblem(msg, file=file, line=line, column=col, field=field or None))
    return problems


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _cross_checks(s: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    services = list(s.services)
    zones = s.zones()
    prefixes = set(zones)
    for z in zones:
        cloud, region, _ = z.split("/")
        prefixes.add(cloud)
        prefixes.add(f"{cloud}/{region}")

    def unknown_service(name: str) -> str:
        return f"unknown service '{name}'{_did_you_mean(name, services)}"

    def known_location(path: str) -> bool:
        return path in prefixes

    def unknown_location(path: str, what: str = "location") -> str:
        options = sorted(prefixes)
        hint = _did_you_mean(path, options)
        if not options:
            hint = "; declare it under 'locations:' (cloud: {region: [zones]})"
        return f"unknown {what} '{path}'{hint}"

    import networkx as nx  # here, not at the top: `meshsim validate` starts faster without it until now

    graph = nx.DiGraph()
    graph.add_nodes_from(services)
    for name, svc in s.services.items():
        variants: list[tuple[tuple[Any, ...], Any]] = [(("services", name), svc)]
        variants += [(("services", name, "versions", v), ver) for v, ver in svc.versions.items()]
        for base, fields in variants:
            for zone in fields.placement or {}:
                if zone not in zones:
                    yield base + ("placement", zone), unknown_location(zone, "zone")
            if fields.placement is not None and fields.replicas is not None:
                yield base + ("replicas",), "give either placement or replicas, not both"
            shared = (fields.discipline or svc.discipline) == "processor_sharing"
            if fields.cores is not None and not shared:
                yield base + ("cores",), "cores are shared only with discipline: processor_sharing"
        for loc, call in s.written_calls(name):
            if call.to not in s.services:
                yield loc, unknown_service(call.to)
            else:
                graph.add_edge(name, call.to)
        if svc.service_time is None:
            missing = [v for v, ver in svc.versions.items() if ver.service_time is None]
            if not svc.versions or missing:
                yield ("services", name), "service_time is required (e.g. service_time: 5ms)"
        if svc.placement is None and svc.replicas is None and len(zones) > 1:
            unplaced = [v for v, ver in svc.versions.items() if ver.placement is None and ver.replicas is None]
            if not svc.versions or unplaced:
                yield (
                    ("services", name),
                    (
                        "say where it runs: placement: {cloud/region/zone: replicas} "
                        "(or replicas: N when the scenario has at most one zone)"
                    ),
                )
        if svc.autoscaling and svc.autoscaling.min_replicas > svc.autoscaling.max_replicas:
            yield ("services", name, "autoscaling"), "min_replicas is above max_replicas"
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        path = " -> ".join([cycle[0][0]] + [b for _, b in cycle])
        yield ("services", cycle[-1][0], "calls"), f"the call graph has a cycle: {path}"

    yield from _retry_checks(s)
    for name, pol in s.policies.items():
        if name not in s.services:
            yield ("policies", name), unknown_service(name)
            continue
        versions = list(s.services[name].versions)
        for v in list((pol.split or {}).keys()) + list(pol.versions):
            if v not in versions:
                where = ("policies", name, "split", v) if v in (pol.split or {}) else ("policies", name, "versions", v)
                yield (
                    where,
                    f"service '{name}' has no version '{v}'{_did_you_mean(v, versions)}"
                    + ("" if versions else f"; declare it under services.{name}.versions"),
                )
        if pol.mirror and pol.mirror.to not in versions and pol.mirror.to not in s.services:
            yield (
                ("policies", name, "mirror", "to"),
                f"mirror target '{pol.mirror.to}' is neither a version of {name} nor a service",
            )
        if pol.locality:
            for i, place in enumerate(pol.locality.failover):
                if not known_location(place):
                    yield ("policies", name, "locality", "failover", i), unknown_location(place)

    for i, w in enumerate(s.workload):
        if w.entry not in s.services:
            yield ("workload", i, "entry"), unknown_service(w.entry)
        if w.origin is not None and not known_location(w.origin):
            yield ("workload", i, "origin"), unknown_location(w.origin)
    names = [w.name for w in s.workload]
    for i, n in enumerate(names):
        if names.index(n) != i:
            yield ("workload", i, "name"), f"workload name '{n}' is used twice"

    for i, link in enumerate(s.network.links):
        for j, place in enumerate(link.between):
            if not known_location(place):
                yield ("network", "links", i, "between", j), unknown_location(place)

    for i, f in enumerate(s.faults):
        if f.kind == "load":
            if f.target is not None and f.target not in names:
                yield (
                    ("faults", i, "target"),
                    (
                        f"a load fault targets a workload; unknown workload '{f.target}'"
                        + _did_you_mean(f.target, names)
                    ),
                )
        elif f.target is not None and not _fault_target_known(f.target, s, prefixes):
            yield (
                ("faults", i, "target"),
                (
                    f"unknown fault target '{f.target}': give a service, service/version or location"
                    + _did_you_mean(f.target, services + sorted(prefixes))
                ),
            )
        elif f.kind in ("errors", "degrade") and f.target in prefixes and f.target not in s.services:
            yield (
                ("faults", i, "target"),
                (f"a {f.kind} fault targets a service or service/version, not the location '{f.target}'"),
            )
        if f.location is not None and not known_location(f.location):
            yield ("faults", i, "location"), unknown_location(f.location)
        for j, place in enumerate(f.between or []):
            if not known_location(place):
                yield ("faults", i, "between", j), unknown_location(place)

    if s.rollout is not None:
        r = s.rollout
        if r.service not in s.services:
            yield ("rollout", "service"), unknown_service(r.service)
        else:
            versions = list(s.services[r.service].versions)
            for key in ("baseline", "canary"):
                v = getattr(r, key)
                if v not in versions:
                    yield ("rollout", key), f"service '{r.service}' has no version '{v}'{_did_you_mean(v, versions)}"

    for i, slo in enumerate(s.slos):
        if slo.workload is not None and slo.workload not in names:
            yield ("slos", i, "workload"), f"unknown workload '{slo.workload}'{_did_you_mean(slo.workload, names)}"
        if slo.service is not None and slo.service not in s.services:
            yield ("slos", i, "service"), unknown_service(slo.service)


def _retry_checks(s: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Retry options the scenario's mesh release has: Traefik's ``timeout``; Traefik 2.x's one condition."""
    pre = preset(s.mesh.defaults, s.mesh.version)
    for name, pol in s.policies.items():
        if pre.retry_kind == "traefik" and not pre.retry_status_supported:
            levels = [(("policies", name), pol)] + [
                (("policies", name, "versions", v), vp) for v, vp in pol.versions.items()
            ]
            for at, level in levels:
                if level.passive_health_check is not None:
                    yield (
                        at + ("passive_health_check",),
                        f"{pre.version} has no passive health check (Traefik 3.6 added it; mesh.version: 3)",
                    )
        blocks: list[tuple[tuple[str, ...], Any]] = [(("policies", name, "retries"), pol.retries)]
        blocks += [(("policies", name, "versions", v, "retries"), vp.retries) for v, vp in pol.versions.items()]
        for where, rp in blocks:
            if rp is None:
                continue
            if rp.timeout and pre.retry_kind != "traefik":
                yield (
                    where + ("timeout",),
                    "retries.timeout is Traefik's retry timeout (mesh.defaults: traefik); "
                    "other meshes bound retries with per_try_timeout and the route timeout",
                )
            if pre.retry_kind == "traefik" and not pre.retry_status_supported:
                if rp.timeout:
                    yield where + ("timeout",), f"{pre.version} has no retry timeout (Traefik 3.7 added it)"
                extra = sorted(set(rp.retry_on or ()) - {"connect-failure"})
                if extra:
                    yield (
                        where + ("retry_on",),
                        f"{pre.version} retries on connection errors only (connect-failure); "
                        f"{', '.join(extra)} need Traefik 3.7 (mesh.version: 3)",
                    )


def _fault_target_known(target: str, s: Scenario, prefixes: set[str]) -> bool:
    if target in s.services or target in prefixes:
        return True
    if "/" in target:
        svc, _, rest = target.partition("/")
        if svc in s.services and rest in s.services[svc].versions:
            return True
    return False


def scenario_from_dict(
    data: Any, file: str | None = None, tree: Any = None, *, import_root: str | Path | None = None
) -> Scenario:
    """Validate a mapping (already parsed) into a :class:`Scenario`, raising MeshsimInputError.

    Args:
        data: the parsed scenario.
        file: the file it came from, for messages; relative ``mesh.import`` paths start at its folder.
        tree: the parsed tree with line numbers, when ``data`` is a plain copy of it.
        import_root: when given, every ``mesh.import`` path must resolve inside this folder
            (relative paths of a scenario given as text start there); anything else is refused.
    """
    tree = data if tree is None else tree
    if not isinstance(data, dict):
        raise MeshsimInputError(
            "a scenario file must be a mapping (name:, services:, workload: ...)", file=file, line=1
        )
    root = Path(import_root).resolve() if import_root is not None else None
    # Relative imports start at the scenario file's folder; a scenario given as text has none.
    text_root = root if root is not None else Path.cwd()
    base_dir = Path(file).parent if file and file not in ("<string>", "<stdin>") else text_root
    data = _apply_imports(data, tree, file, base_dir, root)
    try:
        scenario = Scenario.model_validate({**data, "source_file": file})
    except ValidationError as exc:
        raise MeshsimInputError(problems=_problems_from_validation(exc, tree, file)) from None
    problems = []
    for loc, msg in _cross_checks(scenario):
        line, col = locate(tree, loc)
        problems.append(InputProblem(msg, file=file, line=line, column=col, field=".".join(map(str, loc))))
    if problems:
        raise MeshsimInputError(problems=problems)
    return scenario


def _apply_imports(
    data: dict[str, Any], tree: Any, file: str | None, base_dir: Path, root: Path | None
) -> dict[str, Any]:
    """Merge ``mesh.import`` policies under the file's own: explicit blocks win, block by block.

    Mesh-wide policies (``*``) are folded under every service; imported locality
    names that are not locations of this scenario are dropped with a warning; the
    origin of every imported value and every import warning travel with the scenario.
    """
    mesh = data.get("mesh") or {}
    imports = mesh.get("import") if isinstance(mesh, dict) else None
    own_policies = data.get("policies")
    if isinstance(own_policies, dict) and MESH_WIDE in own_policies and isinstance(data.get("services"), dict):
        # A pasted import may hold the mesh-wide '*' policy: it applies to every service, under its own.
        data = {**data, "policies": apply_mesh_wide(own_policies, list(data["services"]))}
    if isinstance(data.get("policies"), dict):
        data = {**data, "policies": _own_localities(data["policies"], _location_prefixes(data.get("locations") or {}))}
    if not imports:
        return data

    merged_policies: dict[str, Any] = {}
    merged_services: dict[str, Any] = {}
    origins: dict[str, str] = {}
    warnings: list[str] = []
    preset = None
    if not isinstance(imports, list):
        line, _ = locate(tree, ("mesh", "import"))
        raise MeshsimInputError(
            "mesh.import is a list of {format: ..., path: ...}", file=file, line=line, field="mesh.import"
        )
    for i, item in enumerate(imports):
        path, fmt = _import_source(item, i, tree, file, base_dir, root)
        try:
            result = import_mesh_config(fmt, str(path))
        except MeshsimInputError as exc:
            if any(p.line is not None for p in exc.problems):
                raise  # a problem inside a configuration file: its own file and line say most
            line, _ = locate(tree, ("mesh", "import", i, "path"))
            raise MeshsimInputError(
                problems=[
                    replace(
                        p,
                        message=f"{p.file}: {p.message}" if p.file else p.message,
                        file=file,
                        line=line,
                        field=f"mesh.import.{i}.path",
                    )
                    for p in exc.problems
                ]
            ) from None
        preset = preset or result.defaults
        for svc, pol in result.policies.items():
            merged_policies.setdefault(svc, {}).update(pol)
        for svc, hints in result.services.items():
            merged_services.setdefault(svc, {}).update(hints)
        origins.update({k: o.describe() for k, o in result.origins.items()})
        warnings.extend(result.warnings)
    services_in, policies_in = data.get("services") or {}, data.get("policies") or {}
    if not isinstance(services_in, dict) or not isinstance(policies_in, dict):
        return data  # the wrong shape is reported, with its line, when the scenario is validated
    services = dict(services_in)
    if MESH_WIDE in merged_policies:
        merged_policies = apply_mesh_wide(merged_policies, list(services))
    merged_policies.pop(MESH_WIDE, None)
    known = _location_prefixes(data.get("locations") or {})
    for svc, pol in list(merged_policies.items()):
        if svc not in services:
            warnings.append(f"imported policy for '{svc}' ignored: no such service in the scenario")
            merged_policies.pop(svc)
            continue
        loc = pol.get("locality")
        if isinstance(loc, dict) and isinstance(loc.get("failover"), list) and loc["failover"]:
            # Mesh locality names (an Istio region, a Kuma zone, a Consul datacenter) -> scenario locations.
            keep, notes = match_localities(loc["failover"], known)
            warnings.extend(f"imported locality failover of {svc}: {n}" for n in notes)
            pol["locality"] = {**loc, "failover": keep}
    own = dict(policies_in)
    for svc, pol in merged_policies.items():
        mine = own.get(svc) or {}
        own[svc] = {**pol, **mine} if isinstance(mine, dict) else mine  # a wrong shape: validation says so
    # replica hints from Kubernetes workloads fill services that say nothing about placement
    for svc, hints in merged_services.items():
        if svc in services and isinstance(services[svc], dict) and "replicas" in hints:
            body = services[svc]
            if body.get("placement") is None and body.get("replicas") is None and not body.get("versions"):
                services[svc] = {**body, "replicas": hints["replicas"]}
    out = {**data, "policies": own, "services": services, "import_origins": origins, "import_warnings": warnings}
    if preset and isinstance(mesh, dict) and "defaults" not in mesh:
        out["mesh"] = {**mesh, "defaults": preset}
    return out


def _own_localities(policies: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """A failover name that is one location's trailing part (an Istio region, a Consul datacenter) names it.

    Names that match no location, or several, are left for the cross-checks to report.
    """
    out = dict(policies)
    for svc, pol in policies.items():
        loc = pol.get("locality") if isinstance(pol, dict) else None
        if not isinstance(loc, dict) or not isinstance(loc.get("failover"), list):
            continue
        names = []
        for name in loc["failover"]:
            matched, _ = match_localities([name], known) if name not in known else ([name], [])
            names.append(matched[0] if matched else name)
        out[svc] = {**pol, "locality": {**loc, "failover": names}}
    return out


def _location_prefixes(locations: Any) -> set[str]:
    # Read before validation (imports are merged first): any shape may be here; the
    # model reports a wrong one, this only must not fail on it.
    out: set[str] = set()
    if not isinstance(locations, dict):
        return out
    for cloud, regions in locations.items():
        out.add(str(cloud))
        if isinstance(regions, dict):
            for region, zones in regions.items():
                out.add(f"{cloud}/{region}")
                for z in zones if isinstance(zones, list) else []:
                    out.add(f"{cloud}/{region}/{z}")
    return out


def _import_source(
    item: Any, i: int, tree: Any, file: str | None, base_dir: Path, root: Path | None
) -> tuple[Path, str]:
    """The checked ``(path, format)`` of import ``i``: inside ``root`` when given, every file included.

    With ``root``, the path must resolve inside it (``..``, absolute paths and symbolic
    links that lead out are refused), and so must every file a folder import would read.
    """
    field = f"mesh.import.{i}"

    def fail(message: str, *where: Any) -> MeshsimInputError:
        line, _ = locate(tree, ("mesh", "import", i, *where))
        return MeshsimInputError(message, file=file, line=line, field=".".join([field, *map(str, where)]))

    if not isinstance(item, dict) or "format" not in item or "path" not in item:
        raise fail("each import needs format and path")
    try:
        spec = ImportSpec.model_validate({"format": item["format"], "path": item["path"]})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = str(err["loc"][0]) if err["loc"] else "format"
        raise fail(err["msg"], where) from None
    try:
        path = (base_dir / spec.path).resolve()
        exists = path.exists()
    except (OSError, RuntimeError, ValueError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise fail(f"cannot read '{spec.path}': {reason}", "path") from None
    if root is not None and not path.is_relative_to(root):
        raise fail(f"'{spec.path}' is outside the folder this scenario may read from", "path")
    if not exists:
        shown = spec.path if root is not None else str(path)  # never show the host's folders to an upload
        raise fail(f"no such file or folder: {shown}", "path")
    if root is not None:
        for found in iter_files(path):
            if not found.resolve().is_relative_to(root):
                raise fail(
                    f"'{spec.path}' holds a link to a file outside the folder this scenario may read from", "path"
                )
    return path, spec.format


def load_scenario(source: str | Path | dict[str, Any], *, import_root: str | Path | None = None) -> Scenario:
    """Load and validate a scenario from a path, a YAML string, or a mapping.

    ``"-"`` (or ``Path("-")``) reads standard input. ``import_root`` confines ``mesh.import`` paths
    to one folder (an uploaded scenario must not read the host's files); see :func:`scenario_from_dict`.

    Raises :class:`~meshsim.errors.MeshsimInputError` with file, line and field.
    """
    if isinstance(source, dict):
        return scenario_from_dict(source, import_root=import_root)
    if str(source) == STDIN:  # "-": standard input, as Unix tools read it
        file = "<stdin>"
        text = read_input_text(STDIN, what="scenario")
    elif isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml", ".json"))
    ):
        file = str(source)
        text = read_input_text(file, what="scenario file")
    else:
        text, file = str(source), "<string>"
    tree = read_yaml(text, file)
    if tree is None:
        raise MeshsimInputError("the scenario file is empty", file=file, line=1)
    return scenario_from_dict(tree, file=file, import_root=import_root)
