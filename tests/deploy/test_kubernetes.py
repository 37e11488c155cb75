"""deploy/kubernetes: the manifests validate against Kubernetes' schemas, offline, say what
the host needs (probes, ports, the token's key, a grace period that covers the drain), and
the host runs as the Deployment runs it: a non-root user on a read-only root filesystem."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import requests
import yaml

from stack_runtime.settings import ENV, MAX_BODY_BYTES, Settings, load_settings

from ..conftest import ROOT, stop_process
from ..e2e.server import free_port
from .stack import wait_until

KUBERNETES = ROOT / "deploy" / "kubernetes"
#: The oldest Kubernetes whose schemas kubernetes-validate ships, and its newest.
VERSIONS = ("1.25.0", f"{kubernetes_validate.latest_version()}.0")
TOKEN_KEY = ENV["system_token"]
PREVIOUS_KEY = ENV["previous_system_token"]
UNSHARE = ("unshare", "--mount", "--propagation", "private")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def _objects() -> dict[str, dict[str, Any]]:
    """Every object in the folder, by kind (one of each)."""
    objects: dict[str, dict[str, Any]] = {}
    for path in _manifests():
        for doc in _documents(path):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    return _objects()


@pytest.fixture(scope="module")
def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _plain_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment variables that have a literal value."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _port(container: dict[str, Any], name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    return int(ports[name])


def _kustomization() -> dict[str, Any]:
    return dict(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text()))


# -- the schemas ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_each_manifest_validates_against_the_kubernetes_schemas(path: Path, version: str) -> None:
    """Strict: an unknown or misspelt field is an error, not ignored."""
    documents = _documents(path)
    assert documents, f"{path.name} holds no object"
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validation_refuses_a_misspelt_field_and_a_wrong_type() -> None:
    """The check above can fail: a typo and a string for a number are both refused."""
    deployment = _objects()["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    spec["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)
    deployment = _objects()["Deployment"]
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "340"
    with pytest.raises(kubernetes_validate.ValidationError, match="integer"):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


# -- what the host needs ------------------------------------------------------------------


def test_probes_are_the_hosts_health_routes_on_its_port(container: dict[str, Any]) -> None:
    env = _plain_env(container)
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert _port(container, "http") == int(env["PORT"])
    assert _port(container, "metrics") == int(env["STACK_METRICS_PORT"])
    # the readiness probe takes a draining pod out at its first 503
    assert container["readinessProbe"]["failureThreshold"] == 1


def test_the_grace_period_covers_the_pre_stop_wait_and_the_whole_drain(
    objects: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    """preStop, then SIGTERM and a drain bounded by gunicorn's graceful timeout (the call
    limit the container runs with, plus 15 s): the pod must not be killed before both end."""
    settings = load_settings(environ=_plain_env(container), dotenv_path=None)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = int(command[1])
    assert pre_stop >= 5, "the Service and the ingress need a few seconds to stop routing"
    grace = objects["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert settings.graceful_timeout == Settings().graceful_timeout == 315
    assert grace >= pre_stop + settings.graceful_timeout


def test_the_container_runs_as_the_images_user_on_a_read_only_root(
    objects: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    uid = re.search(r"useradd[^\n]*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert uid is not None, "the Dockerfile makes its user with a fixed --uid"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid.group(1))
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # the one writable place: /tmp, for the metrics files and gunicorn's heartbeat files
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts) == {"/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["resources"]["requests"].keys() >= {"cpu", "memory"}


def test_the_token_comes_from_the_secret_under_the_hosts_variable_names(
    container: dict[str, Any],
) -> None:
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    generated = {g["name"] for g in _kustomization()["secretGenerator"]}
    assert refs[TOKEN_KEY]["key"] == TOKEN_KEY
    assert refs[TOKEN_KEY]["name"] in generated
    assert not refs[TOKEN_KEY].get("optional", False)
    assert refs[PREVIOUS_KEY] == {"name": refs[TOKEN_KEY]["name"], "key": PREVIOUS_KEY} | {
        "optional": True
    }
    assert TOKEN_KEY not in _plain_env(container)


def test_the_committed_token_file_is_empty_so_a_forgotten_edit_fails_closed() -> None:
    """An empty token makes ``serve`` refuse to start: no well-known token can go live."""
    lines = (KUBERNETES / "system-token.env").read_text().splitlines()
    assert lines == [f"{TOKEN_KEY}="]
    assert load_settings(environ={TOKEN_KEY: ""}, dotenv_path=None).system_tokens == ()


def test_service_pdb_and_autoscaler_select_the_deployments_pods(
    objects: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    deployment = objects["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    pdb = objects["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    hpa = objects["HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2, "one pod can drain while another serves"
    # the rollout starts a new pod before an old one drains
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_ingress_keeps_the_hosts_limits_and_serves_only_integrator_ios_routes(
    objects: dict[str, dict[str, Any]],
) -> None:
    ingress = objects["Ingress"]
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "proxy-body-size"] == f"{MAX_BODY_BYTES // (1024 * 1024)}m"
    assert int(notes[prefix + "proxy-read-timeout"]) > Settings().call_timeout
    assert notes[prefix + "force-ssl-redirect"] == "true"
    upstream = notes[prefix + "proxy-next-upstream"].split()
    assert "non_idempotent" not in upstream and "error" in upstream
    tls_hosts = [h for entry in ingress["spec"]["tls"] for h in entry["hosts"]]
    assert all(entry["secretName"] for entry in ingress["spec"]["tls"])
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in tls_hosts
    paths = {p["path"]: p for p in rule["http"]["paths"]}
    assert set(paths) == {"/function", "/", "/healthCheck"}
    for path in paths.values():
        assert path["pathType"] == "Exact"
        backend = path["backend"]["service"]
        assert backend == {"name": objects["Service"]["metadata"]["name"], "port": {"name": "http"}}


def test_the_kustomization_lists_every_manifest_and_names_the_deployments_image(
    container: dict[str, Any],
) -> None:
    kustomization = _kustomization()
    assert sorted(kustomization["resources"]) == [p.name for p in _manifests()]
    assert [image["name"] for image in kustomization["images"]] == [container["image"]]
    (generator,) = kustomization["secretGenerator"]
    for name in generator["envs"]:
        assert (KUBERNETES / name).is_file()


# -- rendered by kustomize -----------------------------------------------------------------


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize's rendering was not checked")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_the_rendered_kustomization_validates_and_takes_the_two_edits(tmp_path: Path) -> None:
    """The image and the token file are all a deployment changes: kustomize puts the image
    in the Deployment and makes the Secret (its name hashed, so a new token rolls the pods)."""
    folder = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, folder)
    kustomization = (folder / "kustomization.yaml").read_text()
    kustomization = re.sub(r"newName: \S+", "newName: registry.test/team/stack", kustomization)
    kustomization = re.sub(r"newTag: \S+", 'newTag: "1.2.3"', kustomization)
    (folder / "kustomization.yaml").write_text(kustomization)
    (folder / "system-token.env").write_text(f"{TOKEN_KEY}=s3cret\n{PREVIOUS_KEY}=0ld\n")

    rendered = _kustomize(folder)
    kinds = sorted(doc["kind"] for doc in rendered)
    assert kinds == sorted([*_objects(), "Secret"])
    for document in rendered:
        kubernetes_validate.validate(document, VERSIONS[-1], strict=True)
    by_kind = {doc["kind"]: doc for doc in rendered}
    secret = by_kind["Secret"]
    assert re.fullmatch(r"stack-runtime-token-[a-z0-9]+", secret["metadata"]["name"])
    assert base64.b64decode(secret["data"][TOKEN_KEY]) == b"s3cret"
    assert base64.b64decode(secret["data"][PREVIOUS_KEY]) == b"0ld"
    (container,) = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.test/team/stack:1.2.3"
    refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e]
    assert refs == [secret["metadata"]["name"]] * 2


# -- the host as the Deployment runs it ----------------------------------------------------


@pytest.fixture
def read_only_host(tmp_path: Path, container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``stack-runtime serve`` with the Deployment's environment, as its user, in a mount
    namespace where the root filesystem is read-only and /tmp a fresh tmpfs (the emptyDir)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a mount namespace with a read-only root filesystem")
    missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs util-linux's {', '.join(missing)}")
    mounts = "mount --make-rprivate / && mount -o remount,bind,ro / && mount -t tmpfs tmpfs /tmp"
    tried = subprocess.run(
        [*UNSHARE, "sh", "-c", mounts], capture_output=True, text=True, check=False, timeout=30
    )
    if tried.returncode != 0:  # a container without CAP_SYS_ADMIN, say
        pytest.skip(f"cannot make a read-only mount namespace here: {tried.stderr.strip()}")
    user = _objects()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    for place in (ROOT, Path(sys.executable)):
        if place.resolve().is_relative_to("/tmp"):
            pytest.skip(f"{place} is under /tmp, which the pod's emptyDir (a fresh tmpfs) hides")
    as_user = subprocess.run(
        [
            "setpriv",
            f"--reuid={user['runAsUser']}",
            f"--regid={user['runAsGroup']}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import stack_runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd="/",
    )
    if as_user.returncode != 0:
        reason = (as_user.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(
            f"the Deployment's user (uid {user['runAsUser']}) cannot run this checkout's "
            f"Python: {reason}"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "INTEGRATOR_"))}
    env.update(_plain_env(container))
    port, metrics_port = free_port(), free_port()
    env.update(
        {
            "PORT": str(port),  # the Deployment's own ports are the pod's; here, free ones
            "STACK_METRICS_PORT": str(metrics_port),
            "STACK_HOST": "127.0.0.1",
            "STACK_EXTENSIONS_DIR": str(ROOT / "extensions"),
            "STACK_DRAIN_IDLE_WAIT": "0.5",
            TOKEN_KEY: "k8s-token",
            "HOME": str(ROOT),  # the image's home is read-only too
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    probe = ROOT / ".read-only-probe"
    script = (
        "set -e; mount --make-rprivate /; mount -o remount,bind,ro /; "
        "mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp; "
        f'if touch "{probe}" 2>/dev/null; then echo "root is writable"; exit 97; fi; '
        f"exec setpriv --reuid={user['runAsUser']} --regid={user['runAsGroup']} "
        '--clear-groups --no-new-privs "$@"'
    )
    log = tmp_path / "host.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [*UNSHARE, "sh", "-c", script, "sh", sys.executable, "-m", "stack_runtime", "serve"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    host = {"process": process, "port": port, "metrics_port": metrics_port, "log": log}
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"http://127.0.0.1:{port}/readyz"),
            30,
            "the host to be ready",
        )
        assert process.poll() is None, log.read_text()
        yield host
    finally:
        stop_process(process, signal.SIGKILL, 0)
        probe.unlink(missing_ok=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_host_serves_and_drains_on_a_read_only_root_as_a_non_root_user(
    read_only_host: dict[str, Any],
) -> None:
    """1. the host started (its metrics folder and worker files went to /tmp);
    2. a bundled function answers, /metrics on the metrics port counts it;
    3. SIGTERM: the host drains and exits 0, and nothing tried to write elsewhere."""
    port, process, log = read_only_host["port"], read_only_host["process"], read_only_host["log"]
    answer = requests.post(
        f"http://127.0.0.1:{port}/function",
        json={"diy": True, "type": "hook", "function": "preSavePage", "options": {"data": []}},
        headers={"Authorization": "Bearer k8s-token"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == []
    wait_until(
        lambda: (
            'function="preSavePage",outcome="success"} 1.0'
            in requests.get(
                f"http://127.0.0.1:{read_only_host['metrics_port']}/metrics", timeout=5
            ).text
        ),
        10,
        "the call to be counted",
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text()
    output = log.read_text()
    assert "Read-only file system" not in output
    assert "Errno 13" not in output and "Permission denied" not in output
