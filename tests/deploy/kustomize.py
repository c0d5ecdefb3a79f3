"""Renders deploy/kubernetes with the real kustomize, the one `kubectl kustomize` runs
(kubectl is on the machines this project is built and checked on), and looks things
up in what it renders."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
COMPONENTS = sorted(p.name for p in (KUBERNETES / "components").iterdir() if p.is_dir())

Obj = dict[str, Any]


def kubectl() -> str:
    """kubectl's path. Missing: a skip on a developer's laptop, a failure in CI (which
    sets CI=true), so that CI cannot pass without having rendered anything."""
    path = shutil.which("kubectl")
    if path is None:
        message = "kubectl (whose `kubectl kustomize` renders deploy/kubernetes) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def render(directory: Path) -> list[Obj]:
    """Every object `kubectl kustomize DIRECTORY` renders; its error in full on failure."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_with_components(overlay: str, components: Sequence[str], scratch: Path) -> list[Obj]:
    """An overlay with components added, as a user's kustomization would add them.
    kustomize takes only relative paths, so the scratch kustomization names them so."""
    base = Path(os.path.relpath(KUBERNETES, scratch))
    (scratch / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [str(base / "overlays" / overlay)],
                "components": [str(base / "components" / name) for name in components],
            }
        )
    )
    return render(scratch)


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def container(deployment: Obj, name: str) -> Obj:
    every: list[Obj] = deployment["spec"]["template"]["spec"]["containers"]
    (found,) = [c for c in every if c["name"] == name]
    return found


def containers(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(workload, container) for every container of every Deployment and StatefulSet."""
    for workload in objects:
        if workload["kind"] in ("Deployment", "StatefulSet"):
            for c in workload["spec"]["template"]["spec"]["containers"]:
                yield workload, c


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
