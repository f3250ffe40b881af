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
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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
    variants = sorted(str(path) for path in (DEPLOY / "kubernetes" / "tls").glob("*.yaml"))
    output = _run(str(BIN / "kubernetes-validate"), "--strict", *manifests, *variants)
    assert output.count("passed") == len(manifests) + len(variants) == len(manifests) + 1
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
        {
            **by_kind["Secret"]["stringData"],
            **{e["name"]: e["value"] for e in container["env"] if "value" in e},
        }
    )
    budget = next(e for e in container["env"] if e["name"] == "BUCKETD_MEMORY_BUDGET_BYTES")
    assert budget["valueFrom"]["resourceFieldRef"] == {
        "containerName": container["name"],
        "resource": "limits.memory",
    }  # admission sized from the limit the kernel enforces
    grace = next(
        float(item["value"])
        for item in container["env"]
        if item["name"] == "BUCKETD_SHUTDOWN_GRACE_SECONDS"
    )
    _check_shutdown(by_kind["Deployment"], grace)
    pdb = by_kind["PodDisruptionBudget"]["spec"]
    assert pdb == {**pdb, "maxUnavailable": 1} and "minAvailable" not in pdb  # one at a time


def _check_shutdown(deployment: dict[str, Any], grace: float) -> None:
    """A preStop sleep (endpoints drop the pod first), then the drain: all within the kill
    timeout."""
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and float(command[1]) >= 3, command
    assert pod["terminationGracePeriodSeconds"] >= float(command[1]) + grace + 5


def test_the_tls_variant_probes_over_https_with_the_certificate_mounted() -> None:
    plain = yaml.safe_load((DEPLOY / "kubernetes" / "deployment.yaml").read_text())
    tls = yaml.safe_load((DEPLOY / "kubernetes" / "tls" / "deployment.yaml").read_text())
    (container,) = tls["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert set(env) <= SETTINGS
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert (
            container[probe]["httpGet"] | {"scheme": "HTTPS", "path": path}
            == (container[probe]["httpGet"])
        )
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    assert env["BUCKETD_TLS_CERT_FILE"] == f"{mount['mountPath']}/tls.crt"
    assert env["BUCKETD_TLS_KEY_FILE"] == f"{mount['mountPath']}/tls.key"
    volumes = {v["name"]: v for v in tls["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "bucketd-tls"
    _check_shutdown(tls, float(env["BUCKETD_SHUTDOWN_GRACE_SECONDS"]))
    # the rest is the plain Deployment's: one recipe, two listeners' modes
    (original,) = plain["spec"]["template"]["spec"]["containers"]
    assert container["image"] == original["image"] and container["args"] == original["args"]
    assert container["resources"] == original["resources"]


def test_the_image_installs_the_pinned_versions_of_every_runtime_dependency() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY deploy/constraints.txt ./constraints.txt" in dockerfile
    assert "pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt ." in (
        dockerfile
    )
    pinned = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = Version(version)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"deploy/constraints.txt does not pin {name}"
        assert pinned[name] in requirement.specifier, (name, str(pinned[name]), spec)


def test_compose_gives_bucketd_its_own_minio_user_not_the_root() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    root = services["minio"]["environment"]
    bucketd = services["bucketd"]["environment"]
    init = services["minio-init"]
    assert bucketd["AWS_ACCESS_KEY_ID"] != root["MINIO_ROOT_USER"]
    assert bucketd["AWS_SECRET_ACCESS_KEY"] != root["MINIO_ROOT_PASSWORD"]
    assert init["environment"]["BUCKETD_S3_USER"] == bucketd["AWS_ACCESS_KEY_ID"]
    assert init["environment"]["BUCKETD_S3_PASSWORD"] == bucketd["AWS_SECRET_ACCESS_KEY"]
    script = init["entrypoint"][-1]
    assert "mc admin user add" in script and "mc admin policy attach" in script
    assert f"arn:aws:s3:::{bucketd['S3_BUCKET']}/*" in script  # its bucket, nothing else
    assert services["bucketd"]["depends_on"]["minio-init"] == {
        "condition": "service_completed_successfully"
    }
