"""What the containers run is what the image provides: `profile-matcher` (the
Dockerfile's ENTRYPOINT) accepts every argument, reads every variable, and makes
settings of them that fit together, as kubelet would start it."""

from __future__ import annotations

import argparse
import base64
import math
import re
from pathlib import Path

import pytest

from services.campaigns.settings import CampaignSettings
from services.cli import build_parser
from services.matcher.settings import MatcherSettings
from tests.deploy.kustomize import COMPONENTS, Obj, container, named, render_with_components
from tests.deploy.test_workloads import OUR_CONTAINERS, cpu_quantity

ENV_IN_HELP = re.compile(r"\benv (PROFILE_MATCHER_[A-Z0-9_]+)\b")
REFERENCE = re.compile(r"\$\((\w+)\)")
# What production's hand-made Secrets hold, for starting the parser with them.
STAND_INS = {"uri": "mongodb://mongodb.example:27017/profilematcher", "token": "stand-in-token"}


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub: argparse.ArgumentParser = commands.choices[name]
    return sub


def env_values(c: Obj, objects: list[Obj]) -> dict[str, str]:
    """The container's variables as kubelet sets them (hand-made Secrets: stand-ins)."""
    values: dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            values[e["name"]] = e["value"]
            continue
        source = e["valueFrom"]
        if field := source.get("resourceFieldRef"):
            assert (field["resource"], str(field["divisor"])) == ("limits.cpu", "1")
            # Whole CPUs, rounded up, as kubelet does.
            values[e["name"]] = str(math.ceil(cpu_quantity(c["resources"]["limits"]["cpu"])))
        elif ref := source.get("secretKeyRef"):
            secrets = [s for s in objects if s["kind"] == "Secret"]
            rendered = [s for s in secrets if s["metadata"]["name"] == ref["name"]]
            if rendered:
                data = rendered[0]["data"]
                if ref["key"] in data:
                    values[e["name"]] = base64.b64decode(data[ref["key"]]).decode()
            elif not ref.get("optional"):
                values[e["name"]] = STAND_INS[ref["key"]]
        else:
            raise AssertionError(f"{e['name']}: a source these tests do not know: {source}")
    return values


def started(
    objects: list[Obj], deployment: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, argparse.Namespace, list[str]]:
    """The subcommand, what it parsed and what it did not, with the container's env."""
    c = container(named(objects, "Deployment", deployment), name)
    values = env_values(c, objects)
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    args = [REFERENCE.sub(lambda m: values[m.group(1)], arg) for arg in c["args"]]
    namespace, unknown = build_parser().parse_known_args(args)
    return args[0], namespace, unknown


@pytest.mark.parametrize(("deployment", "name"), OUR_CONTAINERS)
def test_every_argument_is_one_the_command_takes(
    objects: list[Obj], deployment: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, namespace, unknown = started(objects, deployment, name, monkeypatch)
    assert command == {"profile-matcher": "matcher"}.get(deployment, "campaigns")
    assert unknown == []
    assert namespace.command == command


@pytest.mark.parametrize(("deployment", "name"), OUR_CONTAINERS)
def test_the_settings_fit_together(
    objects: list[Obj], deployment: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, namespace, _ = started(objects, deployment, name, monkeypatch)
    if command == "matcher":
        settings = MatcherSettings.from_args(namespace)
        assert settings.auth_token  # the Secret's token guards every RPC
        assert settings.store.startswith("mongodb://")
        assert settings.metrics.port == 9464
    else:
        campaigns = CampaignSettings.from_args(namespace)
        assert campaigns.catalog == Path("/catalog/catalog.json")
        assert campaigns.metrics.port == 9464


def test_the_matcher_runs_as_many_processes_as_its_cpu_limit(
    rendered_overlays: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for overlay, expected in (("dev", "1"), ("production", "2")):
        objects = rendered_overlays[overlay]
        _, namespace, unknown = started(objects, "profile-matcher", "matcher", monkeypatch)
        assert unknown == []
        assert str(namespace.processes) == expected


def variables_read_by(command: str) -> set[str]:
    sub = subcommand(command)
    return {m.group(1) for a in sub._actions for m in ENV_IN_HELP.finditer(a.help or "")}


def test_every_variable_is_read_by_the_command_or_used_in_its_arguments(
    rendered_overlays: dict[str, list[Obj]], tmp_path: Path
) -> None:
    with_components = render_with_components("production", COMPONENTS, tmp_path)
    for objects in [*rendered_overlays.values(), with_components]:
        for deployment, name in OUR_CONTAINERS:
            c = container(named(objects, "Deployment", deployment), name)
            used_in_args = {m.group(1) for arg in c["args"] for m in REFERENCE.finditer(arg)}
            known = variables_read_by(c["args"][0]) | used_in_args
            assert {e["name"] for e in c["env"]} <= known, f"{deployment}/{name}"
