"""What connects the rendered objects: Services and policies select the pods they
mean, ports agree, the autoscaler and the disruption budget fit the replicas, and
every name a container refers to exists (or is one production creates by hand)."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from tests.deploy.kustomize import Obj, container, matches, named, of_kind
from tests.deploy.test_workloads import CAMPAIGNS, MATCHER, port_named

GAME_SERVER = {"profile-matcher.io/client": "game-server"}
# Created out of band in production (overlays/production/kustomization.yaml says how).
PRODUCTION_SECRETS = {"profile-matcher-mongodb", "profile-matcher-auth"}


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def selected(objects: list[Obj], selector: dict[str, str]) -> list[str]:
    return [
        w["metadata"]["name"]
        for w in objects
        if w["kind"] in ("Deployment", "StatefulSet") and matches(selector, pod_labels(w))
    ]


def test_every_service_selects_exactly_one_workload_and_a_port_it_has(
    objects: list[Obj],
) -> None:
    for service in of_kind(objects, "Service"):
        (name,) = selected(objects, service["spec"]["selector"])
        (workload,) = [
            w
            for w in objects
            if w["kind"] in ("Deployment", "StatefulSet") and w["metadata"]["name"] == name
        ]
        (c,) = workload["spec"]["template"]["spec"]["containers"]
        for port in service["spec"]["ports"]:
            assert port_named(c, port["targetPort"]) == port["port"], service["metadata"]


def test_the_matcher_has_a_cluster_ip_and_a_headless_service(objects: list[Obj]) -> None:
    services = {
        s["metadata"]["name"]: s
        for s in of_kind(objects, "Service")
        if selected(objects, s["spec"]["selector"]) == [MATCHER]
    }
    kinds = sorted(s["spec"].get("clusterIP", "auto") for s in services.values())
    assert kinds == ["None", "auto"]


def test_only_game_servers_reach_the_matcher_port(objects: list[Obj]) -> None:
    policy = named(objects, "NetworkPolicy", MATCHER)
    assert selected(objects, policy["spec"]["podSelector"]["matchLabels"]) == [MATCHER]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    c = container(named(objects, "Deployment", MATCHER), "matcher")
    rules = {rule["ports"][0]["port"]: rule for rule in policy["spec"]["ingress"]}
    assert set(rules) == {port_named(c, "grpc"), port_named(c, "metrics")}
    (game_servers,) = rules[port_named(c, "grpc")]["from"]
    assert game_servers["podSelector"]["matchLabels"] == GAME_SERVER
    (monitoring,) = rules[port_named(c, "metrics")]["from"]
    assert monitoring == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }


def test_only_matchers_reach_the_campaign_service(objects: list[Obj]) -> None:
    policy = named(objects, "NetworkPolicy", CAMPAIGNS)
    assert selected(objects, policy["spec"]["podSelector"]["matchLabels"]) == [CAMPAIGNS]
    c = container(named(objects, "Deployment", CAMPAIGNS), "campaigns")
    (grpc_rule,) = [r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == 50052]
    assert port_named(c, "grpc") == 50052
    (matchers,) = grpc_rule["from"]
    assert selected(objects, matchers["podSelector"]["matchLabels"]) == [MATCHER]


def test_the_autoscaler_alone_sets_how_many_matchers_run(objects: list[Obj], overlay: str) -> None:
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", MATCHER)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # A count in the Deployment would be reapplied over the autoscaler's on every
    # `kubectl apply` (the HorizontalPodAutoscaler documentation says to leave it out).
    assert "replicas" not in named(objects, "Deployment", MATCHER)["spec"]
    bounds = (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
    if overlay == "dev":
        assert bounds == (1, 1)
    else:
        assert 2 <= bounds[0] < bounds[1]


def test_the_disruption_budget_lets_drains_proceed_one_matcher_at_a_time(
    objects: list[Obj], overlay: str
) -> None:
    (pdb,) = of_kind(objects, "PodDisruptionBudget")
    assert selected(objects, pdb["spec"]["selector"]["matchLabels"]) == [MATCHER]
    # Kubernetes refuses a budget with both.
    budget = {k: pdb["spec"][k] for k in ("minAvailable", "maxUnavailable") if k in pdb["spec"]}
    assert len(budget) == 1
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    if overlay == "production":
        # One always serves, and a drain can still evict one of the fewest there are.
        assert 1 <= budget["minAvailable"] < hpa["spec"]["minReplicas"]
    else:
        # A lone matcher can still be evicted: a budget must not block drains forever.
        assert budget == {"maxUnavailable": 1}


def test_the_matcher_finds_the_campaign_service(objects: list[Obj]) -> None:
    env = {e["name"]: e for e in container(named(objects, "Deployment", MATCHER), "matcher")["env"]}
    host, _, port = env["PROFILE_MATCHER_CAMPAIGNS"]["value"].partition(":")
    service = named(objects, "Service", host)
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]
    assert selected(objects, service["spec"]["selector"]) == [CAMPAIGNS]


def referenced_secrets(objects: list[Obj]) -> dict[str, bool]:
    """Secret name: whether some reference to it is required (not optional)."""
    found: dict[str, bool] = {}
    for w in objects:
        if w["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in w["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    found[ref["name"]] = found.get(ref["name"], False) or not ref.get("optional")
    return found


def test_every_required_secret_is_rendered_or_made_by_hand(
    objects: list[Obj], overlay: str
) -> None:
    required = {name for name, needed in referenced_secrets(objects).items() if needed}
    rendered = {s["metadata"]["name"] for s in of_kind(objects, "Secret")}
    if overlay == "production":
        assert required == PRODUCTION_SECRETS
        assert rendered == set()
    else:
        assert required <= rendered


def test_dev_stores_profiles_in_its_own_mongodb(rendered_overlays: dict[str, list[Obj]]) -> None:
    objects = rendered_overlays["dev"]
    env = {e["name"]: e for e in container(named(objects, "Deployment", MATCHER), "matcher")["env"]}
    ref = env["PROFILE_MATCHER_STORE"]["valueFrom"]["secretKeyRef"]
    secret = named(objects, "Secret", ref["name"])
    uri = urlsplit(base64.b64decode(secret["data"][ref["key"]]).decode())
    assert uri.scheme == "mongodb"
    service = named(objects, "Service", uri.hostname or "")
    assert [p["port"] for p in service["spec"]["ports"]] == [uri.port]
    (statefulset,) = of_kind(objects, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 1
    assert selected(objects, service["spec"]["selector"]) == [statefulset["metadata"]["name"]]
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]


def test_production_runs_no_database(rendered_overlays: dict[str, list[Obj]]) -> None:
    assert of_kind(rendered_overlays["production"], "StatefulSet") == []


def test_each_overlay_has_its_own_namespace(rendered_overlays: dict[str, list[Obj]]) -> None:
    for name, objects in rendered_overlays.items():
        (namespace,) = of_kind(objects, "Namespace")
        others = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
        assert others == {namespace["metadata"]["name"]}, name
