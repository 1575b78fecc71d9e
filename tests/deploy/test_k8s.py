"""deploy/k8s: every kustomization renders (kustomize), every resource validates offline (Kubernetes'
schemas from kubernetes-validate, strict; vendored CRD schemas for Strimzi, KEDA and the Prometheus
Operator), and the manifests agree with the code: settings, ports, drain deadline, topics."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]  # no stubs
import pytest
import yaml

from newswatch.settings import Settings
from newswatch.topics import ALL_TOPICS, ARTICLES_RAW
from tests.deploy.conftest import (
    DESIGN_TOPICS,
    KUSTOMIZATIONS,
    SCHEMAS,
    SERVICES,
    known_settings,
    metrics_port,
    render,
    settings_from,
)

# The oldest Kubernetes the manifests target (PodDisruptionBudget unhealthyPodEvictionPolicy is GA in
# 1.31) and the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
CRD_FILES = sorted(SCHEMAS.glob("*/*.yaml"))

Doc = dict[str, Any]


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 CRD schema where unknown fields are errors (as `kubectl apply --validate=strict`)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict schema of that custom resource version."""
    out = {}
    for path in CRD_FILES:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served", True):
                out[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return out


def _validate(doc: Doc, k8s_version: str) -> list[str]:
    """Schema errors of one resource (empty = valid); an unknown kind is an error."""
    key = (doc["apiVersion"], doc["kind"])
    schema = _crd_schemas().get(key)
    if schema is not None:
        validator = jsonschema.Draft4Validator(schema)
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, k8s_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{list(exc.absolute_path)}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"no schema: {exc.message}"]
    return []


def _of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _settings_map(docs: list[Doc]) -> dict[str, str]:
    (cm,) = [d for d in _of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("newswatch-settings")]
    return {k: str(v) for k, v in cm["data"].items()}


def _deployments(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for service in SERVICES:
        yield service, _one(docs, "Deployment", f"newswatch-{service}")


@pytest.fixture(params=KUSTOMIZATIONS)
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return render(str(request.param))


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
def test_every_resource_validates_against_its_schema(docs: list[Doc], k8s_version: str) -> None:
    errors = [f"{d['kind']}/{d['metadata']['name']}: {e}" for d in docs for e in _validate(d, k8s_version)]
    assert not errors, "\n".join(errors)


def test_vendored_crds_cover_the_custom_kinds_used() -> None:
    kinds = {k for _, k in _crd_schemas()}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "ScaledObject", "PodMonitor"} <= kinds
    assert ("kafka.strimzi.io/v1", "KafkaTopic") in _crd_schemas()


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        ("Deployment", lambda d: d["spec"]["template"]["spec"].update(terminationGracePeriod=30)),
        ("Deployment", lambda d: d["spec"].update(replicas="two")),
        ("Service", lambda d: d["spec"]["ports"][0].update(port="http")),
        ("KafkaTopic", lambda d: d["spec"].update(partitions="six")),
        ("KafkaTopic", lambda d: d["spec"].update(retention=1)),
        ("KafkaNodePool", lambda d: d["spec"].update(roles=["zookeeper"])),
        ("ScaledObject", lambda d: d["spec"].update(maxReplicas=3)),
    ],
)
def test_validation_rejects_broken_resources(kind: str, mutate: Any) -> None:
    doc = copy.deepcopy(_of_kind(render("base"), kind)[0])
    mutate(doc)
    assert _validate(doc, K8S_VERSIONS[-1]), f"a broken {kind} passed validation"


# ---------------------------------------------------------------- the services


def test_containers_are_locked_down(docs: list[Doc]) -> None:
    for service, deployment in _deployments(docs):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, service
        assert pod["securityContext"]["runAsUser"] == 10001, service
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, service
        assert pod.get("automountServiceAccountToken") is False, service
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, service
            assert sc["readOnlyRootFilesystem"] is True, service
            assert sc["capabilities"] == {"drop": ["ALL"]}, service
            assert sc.get("privileged") is not True, service
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, service


def test_only_tmp_and_the_data_dir_are_writable(docs: list[Doc]) -> None:
    for service, deployment in _deployments(docs):
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        data_dir = str(settings_from(_settings_map(docs)).data_dir)
        assert set(mounts) == {"/tmp", data_dir}, service  # noqa: S108 (a mount path, not a temp file)
        for name in mounts.values():
            assert "emptyDir" in volumes[name] and volumes[name]["emptyDir"].get("sizeLimit"), service


def test_probes_and_ports_follow_the_settings(docs: list[Doc]) -> None:
    settings = settings_from(_settings_map(docs))
    assert settings.metrics_host == "0.0.0.0", "probes come from the kubelet, not from loopback"
    for service, deployment in _deployments(docs):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["run", service]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == metrics_port(settings, service), service
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}, (service, probe)
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, service
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "gazetteer load + broker wait"
    alerter = next(d for s, d in _deployments(docs) if s == "alerter")
    (container,) = alerter["spec"]["template"]["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == settings.api_port == 8080


def test_grace_period_is_longer_than_the_drain_deadline(docs: list[Doc]) -> None:
    deadline = settings_from(_settings_map(docs)).shutdown_deadline_seconds
    assert deadline == Settings().shutdown_deadline_seconds, "settings.env repeats the documented deadline"
    for service, deployment in _deployments(docs):
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= deadline + 10, f"{service}: {grace}s grace vs a {deadline}s drain deadline"


def _quantity(value: Any) -> float:
    text = str(value)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 0.001}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def test_resources_are_requested_and_limited(docs: list[Doc]) -> None:
    for service, deployment in _deployments(docs):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        res = container["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res[kind]), (service, kind)
        assert _quantity(res["requests"]["memory"]) <= _quantity(res["limits"]["memory"]), service
        assert _quantity(res["requests"]["cpu"]) <= _quantity(res["limits"]["cpu"]), service
        if service == "processor":
            # the gazetteer and matcher: ~300 MB resident, ~400 MB more while the matcher is built
            assert _quantity(res["requests"]["memory"]) >= 768 * 2**20
            assert _quantity(res["limits"]["memory"]) >= 1.5 * 2**30
    enrich = settings_from(_settings_map(docs)).processor_enrich_processes
    processor = _one(docs, "Deployment", "newswatch-processor")
    cpu = processor["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    required = 0.5 if enrich == 0 else enrich + 1  # README: give a worker N + 1 cores
    assert _quantity(cpu) >= required


def test_settings_and_secrets(docs: list[Doc]) -> None:
    cm = _settings_map(docs)
    unknown = sorted(set(cm) - known_settings())
    assert not unknown, f"unknown settings stop the services with exit code 2: {unknown}"
    settings_from(cm)  # every value valid
    secrets = _of_kind(docs, "Secret")
    for secret in secrets:
        values = {**(secret.get("data") or {}), **(secret.get("stringData") or {})}
        filled = sorted(k for k, v in values.items() if v)
        assert not filled, f"Secret {secret['metadata']['name']} carries values: {filled}"
        assert set(values) <= known_settings()
    referenced = set()
    for service, deployment in _deployments(docs):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", []):
            assert "value" not in env or not any(w in env["name"] for w in ("TOKEN", "PASSWORD", "SECRET"))
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] == env["name"], service
                referenced.add(ref["name"])
        refs = [e["configMapRef"]["name"] for e in container["envFrom"]]
        assert refs == [_of_kind(docs, "ConfigMap")[0]["metadata"]["name"]], service
    assert referenced == {"newswatch-secrets"}
    assert {s["metadata"]["name"] for s in secrets} <= referenced


def test_production_ships_no_secret_object() -> None:
    assert not _of_kind(render("overlays/production"), "Secret")
    assert _of_kind(render("overlays/dev"), "Secret")


def test_services_pdbs_and_scraping_select_the_pods(docs: list[Doc]) -> None:
    podmonitors = _of_kind(docs, "PodMonitor")
    for service, deployment in _deployments(docs):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        svc = _one(docs, "Service", f"newswatch-{service}")
        assert svc["spec"]["selector"].items() <= labels.items(), service
        svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert svc_ports["metrics"]["targetPort"] == "metrics", service
        (pdb,) = [
            p for p in _of_kind(docs, "PodDisruptionBudget") if p["spec"]["selector"]["matchLabels"] == labels
        ]
        assert pdb["spec"]["maxUnavailable"] == 1, service
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        port = str(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"])
        by_annotation = annotations.get("prometheus.io/scrape") == "true"
        if by_annotation:
            assert (
                annotations["prometheus.io/port"] == port and annotations["prometheus.io/path"] == "/metrics"
            )
        by_monitor = any(
            m["spec"]["selector"]["matchLabels"].items() <= labels.items()
            and any(e["port"] == "metrics" for e in m["spec"]["podMetricsEndpoints"])
            for m in podmonitors
        )
        assert by_annotation != by_monitor, f"{service}: scraped {'twice' if by_annotation else 'never'}"
    alerter = {p["name"]: p["port"] for p in _one(docs, "Service", "newswatch-alerter")["spec"]["ports"]}
    assert alerter == {"http": 8080, "metrics": 9103}


def test_everything_lives_in_the_namespace_it_creates(docs: list[Doc]) -> None:
    (namespace,) = _of_kind(docs, "Namespace")
    name = namespace["metadata"]["name"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == name, f"{doc['kind']}/{doc['metadata']['name']}"


# ---------------------------------------------------------------- Kafka, topics, autoscaling


def test_topics_agree_with_the_catalogue(docs: list[Doc]) -> None:
    cm = settings_from(_settings_map(docs))
    topics = {t["spec"]["topicName"]: t for t in _of_kind(docs, "KafkaTopic")}
    assert set(topics) == {spec.name for spec in ALL_TOPICS}
    assert set(topics) >= DESIGN_TOPICS
    (kafka,) = _of_kind(docs, "Kafka")
    for spec in ALL_TOPICS:
        topic = topics[spec.name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["partitions"] == (spec.partitions or cm.topic_partitions), spec.name
        assert topic["spec"]["replicas"] == cm.topic_replication_factor, spec.name
        config = {k: str(v) for k, v in topic["spec"]["config"].items()}
        assert config == spec.config(), spec.name


def test_kafka_cluster_matches_the_settings(docs: list[Doc]) -> None:
    settings = settings_from(_settings_map(docs))
    (kafka,) = _of_kind(docs, "Kafka")
    plain = next(lst for lst in kafka["spec"]["kafka"]["listeners"] if not lst["tls"])
    assert settings.kafka_bootstrap == f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    pools = [
        p
        for p in _of_kind(docs, "KafkaNodePool")
        if p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    ]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert any("controller" in p["spec"]["roles"] for p in pools), "KRaft needs controllers"
    config = kafka["spec"]["kafka"]["config"]
    rf = settings.topic_replication_factor
    assert rf <= brokers
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == rf
    assert config["min.insync.replicas"] == max(1, rf - 1)
    assert config["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]


def test_processor_autoscaler_is_bound_by_partitions(docs: list[Doc]) -> None:
    processor = _one(docs, "Deployment", "newswatch-processor")
    scalers = _of_kind(docs, "ScaledObject")
    if not scalers:
        assert processor["spec"].get("replicas", 1) == 1
        return
    (scaler,) = scalers
    settings = settings_from(_settings_map(docs))
    raw = next(t for t in _of_kind(docs, "KafkaTopic") if t["spec"]["topicName"] == ARTICLES_RAW.name)
    assert scaler["spec"]["scaleTargetRef"]["name"] == "newswatch-processor"
    assert "replicas" not in processor["spec"], "the autoscaler owns the replica count"
    assert 1 <= scaler["spec"]["minReplicaCount"] <= scaler["spec"]["maxReplicaCount"]
    assert scaler["spec"]["maxReplicaCount"] <= raw["spec"]["partitions"]
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["topic"] == ARTICLES_RAW.name
    assert meta["consumerGroup"] == settings.processor_group_id
    assert meta["bootstrapServers"] == settings.kafka_bootstrap
    assert meta["allowIdleConsumers"] == "false"
    assert int(meta["lagThreshold"]) > 0


def test_pollers_and_alerters_stay_within_their_partitions(docs: list[Doc]) -> None:
    topics = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in _of_kind(docs, "KafkaTopic")}
    for service, topic in (("poller", "newswatch.feeds.v1"), ("alerter", "newswatch.alerts.v1")):
        replicas = _one(docs, "Deployment", f"newswatch-{service}")["spec"].get("replicas", 1)
        assert 1 <= replicas <= topics[topic], service


def test_images_are_pinned(docs: list[Doc]) -> None:
    for service, deployment in _deployments(docs):
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (service, image)


def test_manifests_parse_as_plain_yaml() -> None:
    root = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 12
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path
