"""Each overlay rendered once per session (kustomize runs as a process)."""

from __future__ import annotations

import pytest

from tests.deploy.kustomize import KUBERNETES, OVERLAYS, Obj, render


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, list[Obj]]:
    return {name: render(KUBERNETES / "overlays" / name) for name in OVERLAYS}


@pytest.fixture
def objects(overlay: str, rendered_overlays: dict[str, list[Obj]]) -> list[Obj]:
    return rendered_overlays[overlay]
