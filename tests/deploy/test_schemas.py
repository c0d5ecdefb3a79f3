"""Every object each overlay renders (and the production overlay with the TLS
component) is valid against the Kubernetes OpenAPI schemas, offline: the schemas
kubernetes-validate bundles, in strict mode, so that a misspelt field fails too."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

from tests.deploy.kustomize import COMPONENTS, Obj, named, render_with_components

# The oldest release the manifests are meant for (kubelet's gRPC probes are GA from
# 1.27 on) and the newest the package has schemas for.
VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]


def problems(objects: list[Obj], version: str) -> list[str]:
    found = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            found.append(f"{where}: {path}: {exc.message}")
        except SchemaNotFoundError as exc:
            found.append(f"{where}: {exc.message}")
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_is_valid(objects: list[Obj], version: str) -> None:
    assert objects
    assert problems(objects, version) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_production_with_every_component_is_valid(tmp_path: Path, version: str) -> None:
    objects = render_with_components("production", COMPONENTS, tmp_path)
    assert problems(objects, version) == []


def test_the_validation_catches_a_misspelt_field(rendered_overlays: dict[str, list[Obj]]) -> None:
    """What the tests above lean on: strict validation refuses a field Kubernetes lacks."""
    deployment = copy.deepcopy(
        named(rendered_overlays["production"], "Deployment", "profile-matcher")
    )
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    (problem,) = problems([deployment], VERSIONS[-1])
    assert "readinesProbe" in problem


def test_the_validation_catches_a_kind_it_has_no_schema_for() -> None:
    made_up = {"apiVersion": "example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}}
    (problem,) = problems([made_up], VERSIONS[-1])
    assert "Couldn't find schema" in problem
