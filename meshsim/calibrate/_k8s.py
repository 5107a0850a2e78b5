"""Replicas, versions and zone placement from Kubernetes manifests (Deployments and the like).

Read with a safe YAML loader; nothing in the files is executed. A service is named
by the pod template's ``app.kubernetes.io/name`` or ``app`` label (as Istio's
canonical service is), its version by the ``version`` or ``app.kubernetes.io/version``
label, and zones by ``topology.kubernetes.io/zone`` in a ``nodeSelector`` or a
required node affinity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pandas as pd

from meshsim.calibrate._attrs import split_zone
from meshsim.errors import MeshsimInputError, read_input_text
from meshsim.meshes import iter_files
from meshsim.yamlio import read_yaml_documents

__all__ = ["read_manifests", "placements"]

_WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Rollout", "DeploymentConfig"}
_ZONE_KEYS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_REGION_KEYS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
_VERSION_SUFFIX = re.compile(r"^(.*)-v\d+$")


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _selector_values(spec: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """Values a pod is pinned to by nodeSelector or required node affinity."""
    out: list[str] = []
    selector = spec.get("nodeSelector") or {}
    for k in keys:
        if selector.get(k):
            out.append(str(selector[k]))
    terms = _get(
        spec,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    for term in terms or []:
        for expr in (term or {}).get("matchExpressions") or []:
            if expr.get("key") in keys and expr.get("operator") == "In":
                out.extend(str(v) for v in expr.get("values") or [])
    return list(dict.fromkeys(out))


def _documents(path: Path) -> list[Any]:
    text = read_input_text(path, what="manifest file")
    docs = [d for _, d in read_yaml_documents(text, str(path))]
    out: list[Any] = []
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List":
            out.extend(d.get("items") or [])
        else:
            out.append(d)
    return out


def read_manifests(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """One row per workload: ``service, workload, kind, namespace, version, replicas, zones, region, spread``.

    ``zones`` is a tuple of zone labels the pods are pinned to (empty when free);
    ``spread`` is True when a topology spread constraint spreads them over zones.
    Directories are searched for ``*.yaml``/``*.yml``. Files without any workload
    are fine (a Service or a ConfigMap): the table is then empty.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for p in map(Path, items):
        # the bounded walk of folder imports: no system trees, no symlinked folders, size limits
        files.extend(f for f in iter_files(p) if f.name.lower().endswith((".yaml", ".yml")) or not p.is_dir())
    rows = []
    for f in files:
        for doc in _documents(f):
            if not isinstance(doc, dict) or doc.get("kind") not in _WORKLOAD_KINDS:
                continue
            meta = doc.get("metadata") or {}
            spec = doc.get("spec") or {}
            template = spec.get("template") or {}
            labels = {**(meta.get("labels") or {}), **(_get(template, "metadata", "labels") or {})}
            name = str(meta.get("name", ""))
            service = (
                labels.get("app.kubernetes.io/name")
                or labels.get("app")
                or labels.get("service.istio.io/canonical-name")
                or _VERSION_SUFFIX.sub(r"\1", name)
            )
            version = (
                labels.get("version")
                or labels.get("app.kubernetes.io/version")
                or labels.get("service.istio.io/canonical-revision")
            )
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise MeshsimInputError(
                    f"replicas should be a whole number, got {replicas!r}",
                    file=str(f),
                    field=f"{name}.spec.replicas",
                )
            pod = template.get("spec") or {}
            spread = any(
                c.get("topologyKey") in _ZONE_KEYS
                for c in pod.get("topologySpreadConstraints") or []
                if isinstance(c, dict)
            )
            regions = _selector_values(pod, _REGION_KEYS)
            rows.append(
                {
                    "service": str(service),
                    "workload": name,
                    "kind": doc["kind"],
                    "namespace": meta.get("namespace"),
                    "version": str(version) if version is not None else None,
                    "replicas": replicas,
                    "zones": tuple(_selector_values(pod, _ZONE_KEYS)),
                    "region": regions[0] if regions else None,
                    "spread": spread,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "service",
            "workload",
            "kind",
            "namespace",
            "version",
            "replicas",
            "zones",
            "region",
            "spread",
        ],
    )


def _location(zone: str, region: str | None, cloud: str | None) -> str:
    guessed_cloud, guessed_region, short = split_zone(zone, region)
    return f"{cloud or guessed_cloud or 'k8s'}/{region or guessed_region or 'region'}/{short}"


def placements(manifests: pd.DataFrame, cloud: str | None = None) -> dict[tuple[str, str | None], dict[str, int] | int]:
    """Replicas per zone for each ``(service, version)``; a plain int where no zone is known.

    Pinned pods go round-robin over their zones; spread pods round-robin over
    every zone any manifest names. The cloud is guessed from the zone's shape
    (``us-east-1a`` is AWS, ``us-central1-a`` GCP, ``eastus-1`` Azure) unless given.
    """
    all_zones = sorted(
        {_location(z, r, cloud) for zs, r in zip(manifests["zones"], manifests["region"], strict=True) for z in zs}
    )
    out: dict[tuple[str, str | None], dict[str, int] | int] = {}
    for row in manifests.itertuples():
        # Columns as read_manifests builds them; the stubs type every field as any scalar.
        region = cast("str | None", row.region)
        replicas = cast(int, row.replicas)
        zones = [_location(z, region, cloud) for z in cast("tuple[str, ...]", row.zones)] or (
            all_zones if row.spread else []
        )
        key = (cast(str, row.service), cast("str | None", row.version))
        if not zones:
            prev = out.get(key, 0)
            out[key] = (prev if isinstance(prev, int) else sum(prev.values())) + replicas
            continue
        place = out.get(key)
        place = dict(place) if isinstance(place, dict) else {}
        for i in range(replicas):
            z = zones[i % len(zones)]
            place[z] = place.get(z, 0) + 1
        out[key] = place
    return out
