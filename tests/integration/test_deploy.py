"""Issue 14: the deployment recipe in deploy/ is linted here (no container engine runs on CI):
hadolint for the Dockerfile, the Compose specification's schema for compose.yaml, the Kubernetes
1.37 schemas for the manifests; and it is held to the code: every variable it sets is a setting
bucketd reads, every setting `bucketd serve` requires against real servers is set (and the AWS
region matches an AWS endpoint), every package directory the wheel needs is copied and nothing
else is in the build context, the probes are real routes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bucketd.config import declarations
from bucketd.gateway.settings import GatewaySettings
from bucketd.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
SETTINGS = {d.env for cls in (Settings, GatewaySettings) for _, d in declarations(cls)}
# What `bucketd serve` needs against real servers (anything less starts stand-ins or is refused).
REQUIRED = {"MONGODB_URI", "S3_ENDPOINT_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID"}


def _check_required(variables: dict[str, Any]) -> None:
    assert set(variables) >= REQUIRED, REQUIRED - set(variables)
    aws = re.search(r"s3[.-]([a-z0-9-]+)\.amazonaws\.com", str(variables["S3_ENDPOINT_URL"]))
    if aws:  # SigV4 signs for the region: the default us-east-1 would fail elsewhere
        assert variables.get("AWS_REGION") == aws.group(1), variables.get("AWS_REGION")


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
    assert "BUCKETD_TLS_CERT_FILE" in dockerfile  # the health check follows TLS
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # an allowlist: .venv, node_modules stay out
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE)) - {"--from=build"}
    allowed = {line.removeprefix("!") for line in ignored if line.startswith("!")}
    assert {"pyproject.toml", "README.md", *linked} <= allowed
    assert {name for name in copied if not name.startswith("--")} <= allowed | {"pyproject.toml"}


def test_compose_follows_the_compose_specification() -> None:
    _run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(DEPLOY / "compose.yaml"),
    )
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    environment = compose["services"]["bucketd"]["environment"]
    assert set(environment) <= SETTINGS
    _check_required(environment)
    for name, service in compose["services"].items():  # reproducible: no floating tags
        image = service.get("image")
        assert image is None or (":" in image and not image.endswith(":latest")), (name, image)
    health = " ".join(compose["services"]["mongodb"]["healthcheck"]["test"])
    assert "isWritablePrimary" in health  # healthy once a primary exists, not before


def test_the_kubernetes_manifests_are_valid_and_probe_real_routes() -> None:
    manifests = sorted(str(path) for path in (DEPLOY / "kubernetes").glob("*.yaml"))
    output = _run(str(BIN / "kubernetes-validate"), *manifests)
    assert output.count("passed") == len(manifests)
    documents = {path: yaml.safe_load(Path(path).read_text()) for path in manifests}
    kinds = sorted(document["kind"] for document in documents.values())
    assert kinds == sorted(
        ["Deployment", "Service", "Service", "Secret", "HorizontalPodAutoscaler",
         "PodDisruptionBudget"]
    )  # fmt: skip
    by_kind = {document["kind"]: document for document in documents.values()}
    headless = [
        d
        for d in documents.values()
        if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"
    ]
    assert [port["name"] for port in headless[0]["spec"]["ports"]] == ["grpc"]  # client balancing
    (container,) = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {item["name"] for item in container["env"]} <= SETTINGS
    assert set(by_kind["Secret"]["stringData"]) <= SETTINGS
    _check_required(
        {**by_kind["Secret"]["stringData"], **{e["name"]: e["value"] for e in container["env"]}}
    )
    grace = next(
        float(item["value"])
        for item in container["env"]
        if item["name"] == "BUCKETD_SHUTDOWN_GRACE_SECONDS"
    )
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= grace + 5  # drained before it is killed
