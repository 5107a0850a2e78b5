"""Plain Kubernetes: Deployments, StatefulSets, Pods and Services -> ``services`` hints.

Each workload counts its ``replicas`` (Kubernetes' default 1) towards the Service
whose selector matches its pod labels (else its ``app`` label, else its own
name); a ``version`` label makes a version. No policies come from plain
Kubernetes, so there is no preset; a mesh's objects in the files are skipped with a
note naming the format that reads them.
"""

from __future__ import annotations

from meshsim.meshes._common import MeshImporter
from meshsim.meshes._preset import MeshUnit, Semantic

__all__ = ["UNIT", "KubernetesImporter"]


class KubernetesImporter(MeshImporter):
    """Workloads and Services only; mesh objects are skipped with a note."""

    FORMAT = "kubernetes"


UNIT = MeshUnit(
    name="kubernetes",
    title="Kubernetes workloads",
    presets={},
    import_preset=None,
    importer=KubernetesImporter,
    semantics=(
        Semantic(
            "replicas",
            "1 when a Deployment, StatefulSet or ReplicaSet leaves spec.replicas out",
            "kubernetes/kubernetes staging/src/k8s.io/api/apps/v1/types.go (DeploymentSpec.Replicas)",
            "apps/v1",
        ),
    ),
)
