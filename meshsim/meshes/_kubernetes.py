"""Plain Kubernetes: Deployments, StatefulSets, Pods and Services -> ``services`` hints.

Each workload counts its ``replicas`` (Kubernetes' default 1) towards the Service
whose selector matches its pod labels (else its ``app`` label, else its own
name); a ``version`` label makes a version. No policies come from plain
Kubernetes, so ``ImportResult.defaults`` is None.
"""

from __future__ import annotations

from meshsim.meshes._common import MeshImporter

__all__ = ["KubernetesImporter"]


class KubernetesImporter(MeshImporter):
    """Workloads and Services only; mesh objects in a folder are skipped with a warning."""

    FORMAT = "kubernetes"
