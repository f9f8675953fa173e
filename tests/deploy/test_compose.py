"""deploy/compose: both stacks validate against the Compose specification, and their pieces fit: pinned official
images, files that exist, Prometheus on the rules and the collectors, Grafana on the provisioned datasources,
Alertmanager and nginx configurations their own tools accept, a ClickHouse cluster whose nodes agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from collector.config import OPTIONS
from tests.deploy.common import COMPOSE, REPO, RULES, load_yaml, read_by_rules, require_tool

SINGLE = COMPOSE / "compose.yaml"
SCALE = COMPOSE / "compose.scale.yaml"
STACKS = (SINGLE, SCALE)
NGINX = COMPOSE / "nginx" / "nginx.conf"
OFFICIAL = {
    "clickhouse": "clickhouse/clickhouse-server",
    "prometheus": "prom/prometheus",
    "alertmanager": "prom/alertmanager",
    "grafana": "grafana/grafana",
    "loadbalancer": "nginx",
}


def services(stack: Path) -> dict[str, dict[str, Any]]:
    return load_yaml(stack)["services"]


def service_names(stack: Path) -> set[str]:
    """Names a container of the stack can resolve: services and their network aliases."""
    names = set(services(stack))
    for service in services(stack).values():
        for network in (service.get("networks") or {}).values():
            names |= set((network or {}).get("aliases", []))
    return names


def collectors(stack: Path) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services(stack).items() if name.startswith("collector")}


def role(name: str) -> str:
    return re.sub(r"-\d+$", "", name)


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("check-jsonschema") or str(REPO / ".venv" / "bin" / "check-jsonschema")
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_validates_against_the_compose_specification(stack: Path) -> None:
    result = check_jsonschema(stack)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_specification_check_is_not_vacuous(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        SINGLE.read_text().replace("    restart: unless-stopped\n", "    restart_policy: unless-stopped\n", 1)
    )
    assert check_jsonschema(broken).returncode != 0


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_official_images_pinned_to_versions(stack: Path) -> None:
    seen = set()
    for name, service in services(stack).items():
        if name.startswith("collector"):
            assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"
            assert (stack.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
            continue
        repository, _, tag = service["image"].partition(":")
        assert repository == OFFICIAL[role(name)], f"{name}: {service['image']}"
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)*", tag), f"{name}: {service['image']} is not pinned to a version"
        seen.add(role(name))
    assert {"clickhouse", "prometheus", "alertmanager", "grafana"} <= seen


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_mounted_files_exist(stack: Path) -> None:
    for name, service in services(stack).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (stack.parent / source).exists(), f"{name}: {source} does not exist"


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host path of the bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = (SINGLE.parent / source).resolve()
    return found


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_prometheus_loads_the_rules_and_scrapes_every_collector(stack: Path) -> None:
    prometheus = services(stack)["prometheus"]
    files = mounts(prometheus)
    config = load_yaml(files["/etc/prometheus/prometheus.yml"])
    rule_targets = [target for target, source in files.items() if source == RULES.resolve()]
    assert rule_targets, "dashboards/prometheus/rules.yml is not mounted"
    assert any(Path(rule_targets[0]).match(pattern) for pattern in config["rule_files"])
    jobs = {
        job["job_name"]: {t for c in job["static_configs"] for t in c["targets"]} for job in config["scrape_configs"]
    }
    scraping = [name for name, targets in jobs.items() if targets == {f"{c}:9464" for c in collectors(stack)}]
    assert len(scraping) == 1, f"one job must scrape every collector's :9464: {jobs}"
    assert read_by_rules(scraping[0]), f"the rules read the collector's metrics under another job than {scraping[0]}"
    alertmanagers = {t for a in config["alerting"]["alertmanagers"] for c in a["static_configs"] for t in c["targets"]}
    assert alertmanagers == {"alertmanager:9093"}


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_prometheus_configuration_is_valid(stack: Path) -> None:
    promtool = require_tool("promtool", "Debian package prometheus")
    config = mounts(services(stack)["prometheus"])["/etc/prometheus/prometheus.yml"]
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_configuration_is_valid() -> None:
    amtool = require_tool("amtool", "Debian package prometheus-alertmanager")
    config = mounts(services(SINGLE)["alertmanager"])["/etc/alertmanager/alertmanager.yml"]
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every severity the rules use is routed somewhere other than the catch-all.
    severities = set(re.findall(r"severity: (\w+)", RULES.read_text()))
    routes = " ".join(m for r in load_yaml(config)["route"]["routes"] for m in r["matchers"])
    for severity in severities:
        assert severity in routes, f"severity {severity} has no route"


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_grafana_provisioning_points_at_the_stack(stack: Path) -> None:
    grafana = services(stack)["grafana"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
    files = mounts(grafana)
    datasources = load_yaml(files["/etc/grafana/provisioning/datasources"] / "datasources.yaml")["datasources"]
    names = service_names(stack)
    for source in datasources:
        if source["type"] == "prometheus":
            url = urlsplit(source["url"])
            assert (url.hostname, url.port) == ("prometheus", 9090)
        if source["type"] == "grafana-clickhouse-datasource":
            assert source["jsonData"]["host"] in names, f"no ClickHouse service named {source['jsonData']['host']}"
            assert source["jsonData"]["port"] == 9000
            password = source["secureJsonData"]["password"].lstrip("$").strip("{}")
            assert password in grafana["environment"], f"Grafana gets no {password}"
    providers = load_yaml(files["/etc/grafana/provisioning/dashboards"] / "dashboards.yaml")["providers"]
    dashboards = files[providers[0]["options"]["path"]]
    assert sorted(dashboards.glob("*.json")), "the provider's folder is not the mounted dashboards"


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_collectors_use_the_clickhouse_server(stack: Path) -> None:
    users = ElementTree.parse(COMPOSE / "clickhouse" / "users.xml").getroot().find("users")
    for name, collector in collectors(stack).items():
        environment = collector["environment"]
        known = {option.env for option in OPTIONS}
        assert set(environment) <= known, f"{name}: {set(environment) - known} are no options of the collector"
        dsn = urlsplit(interpolate(environment["CC_ANALYTICS_STORAGE_DSN"]))
        assert dsn.scheme == "http" and dsn.port == 8123
        assert dsn.hostname in service_names(stack)
        assert users.find(dsn.username) is not None, f"{dsn.username} is not a ClickHouse user"
        assert "clickhouse" in {role(d) for d in collector["depends_on"]} or any(
            d.startswith("clickhouse") for d in collector["depends_on"]
        )


def interpolate(text: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as with a .env that sets every required VAR to `set`."""

    def value(match: re.Match) -> str:
        operator, argument = match.group(2) or "", match.group(3) or ""
        return argument if operator == ":-" else "set"

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", value, text)


def required_variables(stack: Path) -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?", stack.read_text()))


def env_example() -> dict[str, str]:
    values = {}
    for line in (COMPOSE / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_secrets_come_from_dot_env(stack: Path) -> None:
    example = env_example()
    assert required_variables(stack) <= set(example), f"not in .env.example: {required_variables(stack) - set(example)}"
    for key, value in example.items():
        if re.search(r"PASSWORD|SECRET|TOKEN", key):
            assert value == "", f".env.example must not carry a value for {key}"
    assert ".env" in (COMPOSE / ".gitignore").read_text().split()
    assert not re.search(r"(?i)password:\s*\w", stack.read_text()), "a literal password in the compose file"


def test_scale_out_has_replicas_behind_nginx() -> None:
    replicas = sorted(collectors(SCALE))
    assert len(replicas) >= 2
    balancer = services(SCALE)["loadbalancer"]
    assert mounts(balancer)["/etc/nginx/nginx.conf"] == NGINX.resolve()
    config = NGINX.read_text()
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\}", config, re.S))
    for upstream, port in (("otlp_grpc", 4317), ("otlp_http", 4318), ("console", 8080)):
        servers = re.findall(r"server ([\w.-]+):(\d+)", upstreams[upstream])
        assert sorted(servers) == [(name, str(port)) for name in replicas], upstream
    assert "hash $remote_addr consistent;" in upstreams["otlp_grpc"]
    assert "hash $remote_addr consistent;" in upstreams["otlp_http"]
    assert re.search(r"listen 4317 http2;.*?grpc_pass grpc://otlp_grpc;", config, re.S)
    assert re.search(r"listen 4318;.*?proxy_pass http://otlp_http;", config, re.S)


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    """nginx -t resolves upstream names at load, so the copy tested names 127.0.0.1 instead (the only change)."""
    nginx = require_tool("nginx", "Debian package nginx")
    config = tmp_path / "nginx.conf"
    config.write_text(re.sub(r"server collector-\d+:", "server 127.0.0.1:", NGINX.read_text()))
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def xml_root(name: str) -> ElementTree.Element:
    return ElementTree.parse(COMPOSE / "clickhouse" / name).getroot()


def test_clickhouse_cluster_nodes_agree() -> None:
    nodes = {name: s for name, s in services(SCALE).items() if role(name) == "clickhouse"}
    assert len(nodes) == 3
    cluster, keeper = xml_root("cluster.xml"), xml_root("keeper.xml")
    replicas = [r.findtext("host") for r in cluster.find("remote_servers").iter("replica")]
    raft = {s.findtext("hostname"): s.findtext("id") for s in keeper.iter("server")}
    quorum = [n.findtext("host") for n in cluster.find("zookeeper").iter("node")]
    assert sorted(replicas) == sorted(nodes) == sorted(raft) == sorted(quorum)
    for name, node in nodes.items():
        assert node["hostname"] == name, "interserver replication advertises the hostname"
        assert node["environment"]["CLICKHOUSE_KEEPER_SERVER_ID"] == raft[name]
        assert node["environment"]["CLICKHOUSE_REPLICA"] == name
        mounted = mounts(node)
        assert (
            mounted["/etc/clickhouse-server/config.d/cluster.xml"] == (COMPOSE / "clickhouse" / "cluster.xml").resolve()
        )
        assert (
            mounted["/etc/clickhouse-server/config.d/keeper.xml"] == (COMPOSE / "clickhouse" / "keeper.xml").resolve()
        )


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_clickhouse_gets_every_variable_its_configuration_reads(stack: Path) -> None:
    for name, node in services(stack).items():
        if role(name) != "clickhouse":
            continue
        for target, source in mounts(node).items():
            if source.suffix == ".xml":
                wanted = {e.get("from_env") for e in ElementTree.parse(source).getroot().iter() if e.get("from_env")}
                assert wanted <= set(node["environment"]), f"{name} ({target}): {wanted - set(node['environment'])}"
