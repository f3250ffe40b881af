"""Issue 14: the deployment recipe in deploy/ is linted here (no container engine runs on CI):
hadolint for the Dockerfile, the Compose specification's schema for compose.yaml, the Kubernetes
1.37 schemas for the manifests; and it is held to the code: every variable it sets is a setting
bucketd reads, every package directory the wheel needs is copied, the probes are real routes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bucketd.config import declarations
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
SETTINGS = {d.env for cls in (Settings, GatewaySettings) for _, d in declarations(cls)}


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_dockerfile_passes_hadolint_and_copies_every_package_directory() -> None:
    _run(str(BIN / "hadolint"), str(DEPLOY / "Dockerfile"))
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    linked = [path.name for path in (ROOT / "bucketd").iterdir() if path.is_symlink()]
    assert linked  # bucketd/server -> ../server, ...
    for name in linked:
        assert f"COPY {name} ./{name}" in dockerfile, name
    assert "USER 10001" in dockerfile and "/healthz" in dockerfile


def test_compose_follows_the_compose_specification() -> None:
    _run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(DEPLOY / "compose.yaml"),
    )
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]["bucketd"]["environment"]) <= SETTINGS


def test_the_kubernetes_manifests_are_valid_and_probe_real_routes() -> None:
    manifests = sorted(str(path) for path in (DEPLOY / "kubernetes").glob("*.yaml"))
    output = _run(str(BIN / "kubernetes-validate"), *manifests)
    assert output.count("passed") == len(manifests)
    documents = {path: yaml.safe_load(Path(path).read_text()) for path in manifests}
    by_kind = {document["kind"]: document for document in documents.values()}
    assert set(by_kind) == {"Deployment", "Service", "Secret", "HorizontalPodAutoscaler"}
    (container,) = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {item["name"] for item in container["env"]} <= SETTINGS
    assert set(by_kind["Secret"]["stringData"]) <= SETTINGS
    grace = next(
        float(item["value"])
        for item in container["env"]
        if item["name"] == "BUCKETD_SHUTDOWN_GRACE_SECONDS"
    )
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= grace + 5  # drained before it is killed
