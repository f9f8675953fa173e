"""deploy/kubernetes: every overlay renders with kubectl kustomize and validates against the Kubernetes schemas
(kubernetes-validate, strict) and, for the prometheus-operator kinds, against crd_schemas; then what the pieces
must agree on: probes, resources, security, Services and their ports, the HPA, the PDB, the ServiceMonitor."""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from collector.config import OPTIONS
from console.access import AccessStore
from receiver.otlp.auth import TokenAuth, Unauthenticated
from tests.deploy.common import OVERLAYS, by_kind, one, parse_dockerfile, read_by_rules, render_overlay
from tests.deploy.crd_schemas import SCHEMAS

# The oldest Kubernetes these manifests claim (deploy/README.md) and the newest kubernetes-validate knows.
VERSIONS = ("1.28.0", kubernetes_validate.utils.latest_version())
DATA_DIR = "/var/lib/cc-analytics"
WORKLOADS = {"embedded": "StatefulSet", "clickhouse": "Deployment"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {overlay: render_overlay(overlay) for overlay in OVERLAYS}


def is_crd_kind(document: dict[str, Any]) -> bool:
    return document["apiVersion"].startswith("monitoring.coreos.com/")


def validate(document: dict[str, Any], version: str) -> None:
    if is_crd_kind(document):
        jsonschema.validate(document, SCHEMAS[document["kind"]])
    else:
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates(overlays: dict, overlay: str, version: str) -> None:
    documents = overlays[overlay]
    kinds = {d["kind"] for d in documents}
    assert {"ServiceMonitor", "PrometheusRule", WORKLOADS[overlay], "Service", "Secret", "ConfigMap"} <= kinds
    for document in documents:
        try:
            validate(document, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            pytest.fail(
                f"{overlay}: {document['kind']} {document['metadata']['name']} (Kubernetes {version}): {exc.message}"
            )


@pytest.mark.parametrize(
    ("kind", "breakage"),
    [
        ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={})),
        ("HorizontalPodAutoscaler", lambda d: d["spec"].update(minReplicas="two")),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update(exprr="up")),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0].update(interval="5 minutes")),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(prot="metrics")),
    ],
)
def test_validation_refuses_a_broken_manifest(overlays: dict, kind: str, breakage) -> None:
    """The validators above are not vacuous: a misspelt or mistyped field fails them."""
    document = copy.deepcopy(one(overlays["clickhouse"], kind))
    breakage(document)
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(document, VERSIONS[0])


# --- the workload ------------------------------------------------------------------------------------------------


def workload(overlays: dict, overlay: str) -> dict[str, Any]:
    return one(overlays[overlay], WORKLOADS[overlay])


def collector_container(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == "collector")


def quantity(text: str) -> float:
    """Kubernetes quantities used here: 500m, 1, 640Mi, 1Gi."""
    units = {"m": 1e-3, "Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB}
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    assert match, text
    return float(match.group(1)) * units.get(match.group(2), 1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ready_on_readyz_alive_on_healthz(overlays: dict, overlay: str) -> None:
    container = collector_container(workload(overlays, overlay)["spec"]["template"]["spec"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "api"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "api"}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318, "api": 8080, "metrics": 9464}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_follow_the_bench(overlays: dict, overlay: str) -> None:
    """bench/README.md: ~500 MB idle, ~840 MB peak at twice the sustainable rate, about one core at full load."""
    resources = collector_container(workload(overlays, overlay)["spec"]["template"]["spec"])["resources"]
    requests, limits = resources["requests"], resources["limits"]
    assert 500e6 <= quantity(requests["memory"]) <= quantity(limits["memory"])
    assert quantity(limits["memory"]) >= 900e6, "below the measured peak: the pod would be OOM-killed under load"
    assert 0.25 <= quantity(requests["cpu"]) <= quantity(limits["cpu"])
    assert quantity(limits["cpu"]) >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runs_non_root_with_a_read_only_root_filesystem(overlays: dict, overlay: str) -> None:
    pod = workload(overlays, overlay)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The image's user, so the data volume the image prepared and fsGroup agree.
    runtime = parse_dockerfile()[1][-1]
    image_user = runtime.expand(runtime.last("USER").arguments).split(":")
    assert [pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]] == [int(i) for i in image_user]
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]
        assert "resources" in container, container["name"]
    # With the root read-only, the data directory and /tmp must be volumes.
    mounts = {m["mountPath"] for m in collector_container(pod)["volumeMounts"]}
    assert {DATA_DIR, "/tmp"} <= mounts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_reference_resolves(overlays: dict, overlay: str) -> None:
    """Volumes, envFrom and secrets name objects of the render (kustomize renamed generated ones with a hash)."""
    documents = overlays[overlay]
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    pod = workload(overlays, overlay)["spec"]["template"]["spec"]
    volumes = {v["name"] for v in pod.get("volumes", [])} | {
        c["metadata"]["name"] for c in workload(overlays, overlay)["spec"].get("volumeClaimTemplates", [])
    }
    for container in pod["containers"] + pod.get("initContainers", []):
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes, f"{container['name']}: volume {mount['name']} is not defined"
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert ("ConfigMap", source["configMapRef"]["name"]) in names
            if "secretRef" in source:
                assert ("Secret", source["secretRef"]["name"]) in names
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            assert ("Secret", volume["secret"]["secretName"]) in names
    assert ("ServiceAccount", pod["serviceAccountName"]) in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_names_collector_options(overlays: dict, overlay: str) -> None:
    known = {option.env for option in OPTIONS}
    for configmap in by_kind(overlays[overlay], "ConfigMap"):
        for key in configmap.get("data", {}):
            if key.startswith("CC_ANALYTICS_"):
                assert key in known, f"{configmap['metadata']['name']}: {key} is no option of the collector"
    config = next(
        c for c in by_kind(overlays[overlay], "ConfigMap") if c["metadata"]["name"].startswith("cc-analytics-config")
    )
    assert config["data"]["CC_ANALYTICS_BIND"] == "0.0.0.0"
    assert config["data"]["CC_ANALYTICS_DATA_DIR"] == DATA_DIR


def test_embedded_is_one_replica_with_a_volume_claim(overlays: dict) -> None:
    statefulset = workload(overlays, "embedded")
    assert statefulset["spec"]["replicas"] == 1, "one process owns the embedded store"
    claims = {c["metadata"]["name"]: c for c in statefulset["spec"]["volumeClaimTemplates"]}
    mounts = {
        m["mountPath"]: m["name"] for m in collector_container(statefulset["spec"]["template"]["spec"])["volumeMounts"]
    }
    assert mounts[DATA_DIR] in claims, "the embedded store must live on the claim"
    assert ("Service", statefulset["spec"]["serviceName"]) in {
        (d["kind"], d["metadata"]["name"]) for d in overlays["embedded"]
    }


def pod_labels(overlays: dict, overlay: str) -> dict[str, str]:
    return workload(overlays, overlay)["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_clickhouse_overlay_scales_on_cpu_with_a_disruption_budget(overlays: dict) -> None:
    documents = overlays["clickhouse"]
    deployment = workload(overlays, "clickhouse")
    hpa = one(documents, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = one(documents, "PodDisruptionBudget")
    assert selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(overlays, "clickhouse"))
    assert pdb["spec"].get("maxUnavailable", 0) >= 1 or pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    storage = next(s for s in by_kind(documents, "Secret") if s["metadata"]["name"].startswith("cc-analytics-storage"))
    dsn = base64.b64decode(storage["data"]["CC_ANALYTICS_STORAGE_DSN"]).decode()
    assert re.match(r"https?://", dsn), "the replicas need a ClickHouse server"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_the_pods_on_named_ports(overlays: dict, overlay: str) -> None:
    labels = pod_labels(overlays, overlay)
    container_ports = {
        p["name"] for p in collector_container(workload(overlays, overlay)["spec"]["template"]["spec"])["ports"]
    }
    services = {s["metadata"]["name"]: s for s in by_kind(overlays[overlay], "Service")}
    for service in services.values():
        assert selects(service["spec"]["selector"], labels), f"{service['metadata']['name']} selects no collector pod"
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, f"{service['metadata']['name']}: {port['targetPort']}"
    exposed = {p["port"] for p in services["cc-analytics"]["spec"]["ports"]}
    assert exposed == {4317, 4318, 8080}
    assert [p["port"] for p in services["cc-analytics-metrics"]["spec"]["ports"]] == [9464]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_monitor_scrapes_the_metrics_port_as_the_rules_job(overlays: dict, overlay: str) -> None:
    monitor = one(overlays[overlay], "ServiceMonitor")
    services = [
        s
        for s in by_kind(overlays[overlay], "Service")
        if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["name"] for s in services] == ["cc-analytics-metrics"]
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] in {p["name"] for p in services[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # The rules and dashboards filter on the job; the operator would name it after the Service otherwise.
    job = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
    assert len(job) == 1 and job[0]["action"] == "replace", endpoint["relabelings"]
    assert read_by_rules(job[0]["replacement"]), f"the rules read no job {job[0]['replacement']}"


# --- the example secrets hold nothing usable ---------------------------------------------------------------------


def secret_file(documents: list[dict], prefix: str, key: str, tmp_path: Path) -> Path:
    secret = next(s for s in by_kind(documents, "Secret") if s["metadata"]["name"].startswith(prefix))
    path = tmp_path / key
    path.write_bytes(base64.b64decode(secret["data"][key]))
    return path


def test_example_ingest_tokens_load_and_let_nobody_in(overlays: dict, tmp_path: Path) -> None:
    path = secret_file(overlays["embedded"], "cc-analytics-ingest-tokens", "tokens.yaml", tmp_path)
    auth = TokenAuth.from_file(path)  # the collector's own reader: the file is valid
    for guess in ("", "replace-me", "0" * 64, "change-me"):
        with pytest.raises(Unauthenticated):
            auth.sender_for(f"Bearer {guess}")


def test_example_console_access_loads_and_lets_nobody_in(overlays: dict, tmp_path: Path) -> None:
    path = secret_file(overlays["clickhouse"], "cc-analytics-console-access", "access.yaml", tmp_path)
    store = AccessStore(path)
    assert store.principals(), "with no principal the collector would create an owner in each pod"
    assert all(set(p.sha256) == {"0"} for p in store.principals())
    for guess in ("replace-me", "0" * 64):
        assert store.authenticate(guess) is None


def test_each_replica_starts_from_the_console_access_secret(overlays: dict) -> None:
    """The collector reads <data_dir>/access.yaml when console.access_file is unset: the copy must land there,
    on the volume the collector mounts at its data directory."""
    pod = workload(overlays, "clickhouse")["spec"]["template"]["spec"]
    [copy_step] = pod["initContainers"]
    source, target = copy_step["command"][-2:]
    mounts = {m["mountPath"]: m["name"] for m in copy_step["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert target == f"{DATA_DIR}/access.yaml"
    assert secrets[mounts[str(Path(source).parent)]].startswith("cc-analytics-console-access")
    collector_mounts = {m["mountPath"]: m["name"] for m in collector_container(pod)["volumeMounts"]}
    assert collector_mounts[DATA_DIR] == mounts[DATA_DIR]
    config = one(overlays["clickhouse"], "ConfigMap", "cc-analytics-config")
    assert "CC_ANALYTICS_CONSOLE_ACCESS_FILE" not in config["data"]
