"""Every workload each overlay renders has probes, resources and a locked-down
security context, and runs the one image."""

from __future__ import annotations

import re

import pytest

from tests.deploy.kustomize import Obj, container, containers, named

MATCHER = "profile-matcher"
CAMPAIGNS = "profile-matcher-campaigns"
OUR_CONTAINERS = [(MATCHER, "matcher"), (CAMPAIGNS, "campaigns")]


def port_named(c: Obj, name: str) -> int:
    (port,) = [p["containerPort"] for p in c["ports"] if p["name"] == name]
    assert isinstance(port, int)
    return port


def cpu_quantity(raw: str) -> float:
    return float(raw[:-1]) / 1000 if raw.endswith("m") else float(raw)


@pytest.mark.parametrize(("deployment", "name"), OUR_CONTAINERS)
def test_our_probes_ask_grpc_health_on_the_serving_port(
    objects: list[Obj], deployment: str, name: str
) -> None:
    c = container(named(objects, "Deployment", deployment), name)
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"]["port"] == port_named(c, "grpc"), probe
        # Empty: the whole server's status, which grpc.health.v1 serves as "".
        assert c[probe]["grpc"].get("service", "") == ""


def test_the_matcher_waits_for_its_first_catalog_before_liveness_counts(
    objects: list[Obj],
) -> None:
    c = container(named(objects, "Deployment", MATCHER), "matcher")
    startup = c["startupProbe"]
    assert startup["grpc"]["port"] == port_named(c, "grpc")
    # Longer to start than liveness gives a running server to answer.
    live = c["livenessProbe"]
    assert (
        startup["periodSeconds"] * startup["failureThreshold"]
        > live["periodSeconds"] * live["failureThreshold"]
    )


def test_every_container_has_probes(objects: list[Obj]) -> None:
    missing = [
        f"{w['metadata']['name']}/{c['name']}: {probe}"
        for w, c in containers(objects)
        for probe in ("readinessProbe", "livenessProbe")
        if probe not in c
    ]
    assert missing == []


def test_every_container_requests_and_limits_cpu_and_memory(objects: list[Obj]) -> None:
    for workload, c in containers(objects):
        where = f"{workload['metadata']['name']}/{c['name']}"
        resources = c["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}, where
        assert set(resources["limits"]) == {"cpu", "memory"}, where
        assert cpu_quantity(resources["requests"]["cpu"]) <= cpu_quantity(
            resources["limits"]["cpu"]
        ), where


def test_every_container_runs_unprivileged_on_a_read_only_root(objects: list[Obj]) -> None:
    for workload, c in containers(objects):
        where = f"{workload['metadata']['name']}/{c['name']}"
        pod = workload["spec"]["template"]["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        # A number: kubelet cannot check a user name (the image's is `nobody`).
        assert isinstance(pod["runAsUser"], int), where
        assert pod["runAsUser"] != 0, where
        own = c["securityContext"]
        assert own["allowPrivilegeEscalation"] is False, where
        assert own["readOnlyRootFilesystem"] is True, where
        assert own["capabilities"]["drop"] == ["ALL"], where
        assert own.get("privileged", False) is False, where


def test_both_services_run_the_one_image_that_kustomize_names(objects: list[Obj]) -> None:
    images = {container(named(objects, "Deployment", d), n)["image"] for d, n in OUR_CONTAINERS}
    assert len(images) == 1
    (image,) = images
    name, _, tag = image.rpartition(":")
    # `images:` in the kustomizations replaced the bare name and gave a tag.
    assert name.split("/")[-1] == "profile-matcher"
    assert tag


def test_the_matcher_runs_one_process_per_cpu_of_its_limit(objects: list[Obj]) -> None:
    c = container(named(objects, "Deployment", MATCHER), "matcher")
    args = c["args"]
    value = args[args.index("--processes") + 1]
    reference = re.fullmatch(r"\$\((\w+)\)", value)
    assert reference, value
    (env,) = [e for e in c["env"] if e["name"] == reference.group(1)]
    field = env["valueFrom"]["resourceFieldRef"]
    assert field["resource"] == "limits.cpu"
    assert field["containerName"] == "matcher"
    assert field["divisor"] in ("1", 1)


def test_the_catalog_is_a_mounted_config_map_directory(objects: list[Obj]) -> None:
    """A subPath mount would never see kubelet's updates of the ConfigMap."""
    deployment = named(objects, "Deployment", CAMPAIGNS)
    c = container(deployment, "campaigns")
    catalog = c["args"][c["args"].index("--catalog") + 1]
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert "subPath" not in mount
    directory, _, key = catalog.rpartition("/")
    assert directory == mount["mountPath"]
    config_map = named(objects, "ConfigMap", volume["configMap"]["name"])
    assert key in config_map["data"]


def test_every_pod_template_carries_the_part_of_label(objects: list[Obj]) -> None:
    for name, _ in OUR_CONTAINERS:
        labels = named(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "profile-matcher"
