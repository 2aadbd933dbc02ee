"""The deployment example (deploy/) cannot be run here (no container engine): check that
its pieces fit together and with the daemon, so a copy of it starts as documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from handover.cli.main import build_parser
from handover.config.load import Config, load_config
from handover.daemon.app import Daemon

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG_PATH = "/etc/handover/handover.toml"


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (DEPLOY / "handover.env.example").read_text()
             .splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Config:
    for key, value in env_example().items():
        monkeypatch.setenv(key, value)
    return load_config(str(DEPLOY / "handover.toml"))


def public_adapters(config: Config) -> set[str]:
    """Instances whose adapter mounts HTTP routes (at /<name>/) with this configuration
    (building the daemon connects to nothing)."""
    daemon = Daemon(config)
    return {name for name, adapter in daemon.adapters.items() if adapter.http_app() is not None}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def assert_cli(argv: list[str]) -> None:
    """The command line parses, and names the mounted configuration file."""
    args = build_parser().parse_args(argv)  # exits (fails the test) on a bad command
    assert argv[0] in ("run", "migrate")
    assert args.config == CONFIG_PATH


def test_the_configuration_is_valid_for_several_instances(config: Config) -> None:
    text = (DEPLOY / "handover.toml").read_text()
    referenced = set(re.findall(r"\$\{(\w+)\}", text))
    assert referenced == set(env_example()), "handover.env.example must list every variable"
    assert config.store.engine == "postgres"
    assert config.store.migrate == "manual"
    assert config.server.host == "0.0.0.0"
    assert config.server.trusted_proxies


def test_compose_migrates_first_then_runs_two_instances_behind_nginx(config: Config) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert_cli(services["migrate"]["command"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    instances = {n: s for n, s in services.items() if s.get("command", [""])[0] == "run"}
    assert len(instances) >= 2
    port = config.server.port
    for service in instances.values():
        assert_cli(service["command"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["env_file"] == "handover.env"
        assert f"./handover.toml:{CONFIG_PATH}:ro" in service["volumes"]
        assert any(f"127.0.0.1:{port}/readyz" in part for part in service["healthcheck"]["test"])
        grace = int(service["stop_grace_period"].rstrip("s"))
        assert grace > config.server.drain_seconds
    nginx = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream handover \{(.*?)\}", nginx, re.S)
    assert upstream is not None
    assert set(re.findall(r"server ([\w-]+):(\d+)", upstream.group(1))) == {
        (name, str(port)) for name in instances
    }
    assert "proxy_set_header Upgrade $http_upgrade" in nginx
    public = re.search(r"location ~ \^/\(([\w|]+)\)/", nginx)
    assert public is not None and set(public.group(1).split("|")) == public_adapters(config)


def test_kubernetes_runs_replicas_with_probes_and_a_migrate_job(config: Config) -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    resources = {}
    for name in kustomization["resources"]:
        for doc in documents(DEPLOY / name):
            # The first of a kind: the main Ingress (the socket.io one has its own test).
            resources.setdefault(doc["kind"], doc)
    [generated] = kustomization["configMapGenerator"]
    assert all((DEPLOY / f).exists() for f in generated["files"])

    deployment = resources["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert_cli(container["args"])
    assert [p["containerPort"] for p in container["ports"]] == [config.server.port]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["spec"]["terminationGracePeriodSeconds"] > config.server.drain_seconds
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert mounts["config"] == str(Path(CONFIG_PATH).parent)
    assert volumes["config"]["configMap"]["name"] == generated["name"]

    job = resources["Job"]["spec"]["template"]["spec"]
    [migrate] = job["containers"]
    assert_cli(migrate["args"])
    assert migrate["envFrom"] == container["envFrom"]

    service = resources["Service"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    pdb = resources["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    paths = {p["path"] for rule in resources["Ingress"]["spec"]["rules"]
             for p in rule["http"]["paths"]}
    assert paths == {f"/{name}/" for name in public_adapters(config)}


def test_the_documented_commands_name_files_that_exist() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for command in re.findall(r"^(?:docker compose|kubectl) .*$", readme, re.M):
        for word in shlex.split(command):
            if word.startswith("deploy/") and not word.endswith(".txt"):
                path = word.split("=", 1)[-1]
                assert (DEPLOY.parent / path).exists() or path == "deploy/handover.env", word


def test_only_the_proxy_in_front_is_trusted_and_nginx_limits_per_address(config: Config) -> None:
    import ipaddress

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    nginx_ip = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    # One address, the proxy's: not a private range any container could sit in.
    assert [str(n) for n in config.server.trusted_proxies] == [f"{nginx_ip}/32"]
    for network in config.server.trusted_proxies:
        assert ipaddress.ip_network(network).num_addresses == 1
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server_tokens off;" in nginx
    create = re.search(r"location = /rest/conversations \{(.*?)\}", nginx, re.S)
    assert create is not None and "limit_req zone=create" in create.group(1)
    public = re.search(r"location ~ \^/\(web\|rest\|kcc\)/ \{(.*?)\}", nginx, re.S)
    assert public is not None and "limit_req zone=public" in public.group(1)
    assert "limit_conn conns" in public.group(1)


def test_socketio_long_polling_is_sticky_at_both_load_balancers() -> None:
    # engine.io long-polling needs every request of a session on one instance.
    nginx = (DEPLOY / "nginx.conf").read_text()
    location = re.search(r"location /socket\.io/ \{(.*?)\}", nginx, re.S)
    assert location is not None
    upstream_name = re.search(r"proxy_pass http://(\w+);", location.group(1))
    assert upstream_name is not None
    upstream = re.search(rf"upstream {upstream_name.group(1)} \{{(.*?)\}}", nginx, re.S)
    assert upstream is not None
    assert re.search(r"^\s*(ip_hash|hash \$binary_remote_addr consistent);", upstream.group(1),
                     re.M)
    ingresses = [d for d in documents(DEPLOY / "kubernetes" / "ingress.yaml")
                 if d["kind"] == "Ingress"]
    sticky = [i for i in ingresses
              if any(p["path"] == "/socket.io/" for r in i["spec"]["rules"]
                     for p in r["http"]["paths"])]
    assert len(sticky) == 1
    annotations = sticky[0]["metadata"]["annotations"]
    assert annotations.get("nginx.ingress.kubernetes.io/upstream-hash-by") == (
        "$binary_remote_addr") or annotations.get("nginx.ingress.kubernetes.io/affinity")
