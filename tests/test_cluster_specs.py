"""The cluster specs under cluster/: they parse, have the structure KubeRay / the Ray cluster launcher
require, agree with each other (one image, one Ray version) and expose nothing publicly.

Fast and offline: PyYAML plus Ray's own launcher schema; no cluster, no Ray runtime. (The KubeRay CRD
schema cannot be downloaded here, so the KubeRay checks are structural.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bert2dnn_ray.submit import STAGE_SCRIPTS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster"
DOCKERFILE = CLUSTER / "Dockerfile"
AWS = CLUSTER / "aws" / "cluster.yaml"
YAML_FILES = sorted(p for p in CLUSTER.rglob("*") if p.suffix in (".yaml", ".yml"))
PUBLIC_SERVICE_TYPES = {"LoadBalancer", "NodePort"}
GPU_INSTANCE = re.compile(r"^(g4dn|g4ad|g5|g5g|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e)\.")


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in YAML_FILES for d in load_docs(p) if isinstance(d, dict) and "apiVersion" in d]


def ray_cluster_specs() -> list[tuple[str, dict[str, Any]]]:
    """(label, RayClusterSpec) of every RayCluster and of every RayJob's rayClusterSpec."""
    out = []
    for p, d in k8s_docs():
        if d["kind"] == "RayCluster":
            out.append((f"{p.name}:{d['metadata']['name']}", d["spec"]))
        elif d["kind"] == "RayJob" and "rayClusterSpec" in d["spec"]:
            out.append((f"{p.name}:{d['metadata']['name']}.rayClusterSpec", d["spec"]["rayClusterSpec"]))
    return out


def rayjobs() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.name}:{d['metadata']['name']}", d) for p, d in k8s_docs() if d["kind"] == "RayJob"]


def containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    return pod_template["spec"]["containers"]


def all_k8s_containers() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for label, spec in ray_cluster_specs():
        out += [(f"{label} head", c) for c in containers(spec["headGroupSpec"]["template"])]
        for g in spec.get("workerGroupSpecs", []):
            out += [(f"{label} {g['groupName']}", c) for c in containers(g["template"])]
    return out


def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def dockerfile_base() -> str:
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile(), flags=re.M)
    assert len(froms) == 1, froms
    return froms[0]


def dockerfile_workdir() -> str:
    return re.findall(r"^WORKDIR\s+(\S+)", dockerfile(), flags=re.M)[-1]


def project() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def installed_ray() -> str:
    import importlib.metadata

    return importlib.metadata.version("ray")


def gpus(container: dict[str, Any]) -> int:
    res = container.get("resources", {})
    return int(res.get("limits", {}).get("nvidia.com/gpu", 0))


# ------------------------------------------------------------------------------------------------


def test_the_expected_specs_exist():
    names = {p.relative_to(CLUSTER).as_posix() for p in YAML_FILES}
    assert {"kuberay/raycluster.yaml", "kuberay/rayjob-pipeline.yaml", "aws/cluster.yaml"} <= names
    assert DOCKERFILE.is_file()
    readme = (CLUSTER / "README.md").read_text(encoding="utf-8")
    for name in [*names, "Dockerfile"]:
        assert Path(name).name in readme, f"cluster/README.md does not mention {name}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(CLUSTER).as_posix())
def test_every_yaml_parses(path):
    docs = load_docs(path)
    assert docs and all(isinstance(d, dict) for d in docs), path
    for d in docs:
        if "apiVersion" in d:
            assert d.get("kind") and d.get("metadata", {}).get("name"), f"{path}: kind and metadata.name"


def test_kuberay_kinds_and_api_version():
    kinds = {(d["apiVersion"], d["kind"]) for _, d in k8s_docs() if d["apiVersion"].startswith("ray.io")}
    assert kinds == {("ray.io/v1", "RayCluster"), ("ray.io/v1", "RayJob")}, kinds
    # Only kinds we mean to ship: no Service / Ingress objects of our own.
    assert {d["kind"] for _, d in k8s_docs()} <= {"RayCluster", "RayJob", "PersistentVolumeClaim"}


@pytest.mark.parametrize("label,spec", ray_cluster_specs(), ids=lambda x: x if isinstance(x, str) else "")
def test_ray_cluster_spec_structure(label, spec):
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict), f"{label}: headGroupSpec.rayStartParams"
    cs = containers(head["template"])
    assert cs and all(c.get("name") and c.get("image") for c in cs), f"{label}: head containers"
    assert gpus(cs[0]) == 0, f"{label}: the head needs no GPU"
    groups = spec["workerGroupSpecs"]
    names = [g["groupName"] for g in groups]
    assert len(names) == len(set(names)), f"{label}: duplicate groupName"
    for g in groups:
        where = f"{label} {g['groupName']}"
        assert isinstance(g["replicas"], int) and isinstance(g["minReplicas"], int)
        assert isinstance(g["maxReplicas"], int)
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"], f"{where}: min <= replicas <= max"
        assert isinstance(g["rayStartParams"], dict), f"{where}: rayStartParams"
        assert containers(g["template"]) and all(c.get("image") for c in containers(g["template"])), where
    # KubeRay's CRD types rayStartParams as map[string]string: every value must be a YAML string.
    for where, params in [(f"{label} head", head["rayStartParams"])] + [
        (f"{label} {g['groupName']}", g["rayStartParams"]) for g in groups
    ]:
        bad = {k: v for k, v in params.items() if not isinstance(v, str)}
        assert not bad, f"{where}: rayStartParams values must be quoted strings: {bad}"


@pytest.mark.parametrize("label,spec", ray_cluster_specs(), ids=lambda x: x if isinstance(x, str) else "")
def test_gpu_teacher_and_cpu_student_groups(label, spec):
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert "teacher-gpu" in groups, f"{label}: no teacher-gpu worker group"
    for c in containers(groups["teacher-gpu"]["template"]):
        assert gpus(c) == 1, f"{label}: teacher-gpu asks for 1 nvidia.com/gpu per pod (limits)"
        req = c["resources"].get("requests", {}).get("nvidia.com/gpu")
        assert req in (None, c["resources"]["limits"]["nvidia.com/gpu"]), "GPU requests must equal limits"
    if "student-cpu" in groups:
        assert all(gpus(c) == 0 for c in containers(groups["student-cpu"]["template"]))


def test_raycluster_has_a_student_cpu_group():
    for label, spec in ray_cluster_specs():
        if ".rayClusterSpec" not in label:
            assert "student-cpu" in {g["groupName"] for g in spec["workerGroupSpecs"]}, label


def test_ray_version_matches_the_installed_ray():
    ray_version = installed_ray()
    major_minor = ".".join(ray_version.split(".")[:2])
    for label, spec in ray_cluster_specs():
        assert spec.get("rayVersion") == ray_version, f"{label}: rayVersion {spec.get('rayVersion')!r}"
    m = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py(\d)(\d+)-(gpu|cu\d+)", dockerfile_base())
    assert m, f"Dockerfile base {dockerfile_base()!r}: expected rayproject/ray:X.Y.Z-pyNN-gpu"
    assert m.group(1).startswith(major_minor + "."), (
        f"Dockerfile base Ray {m.group(1)} != installed {ray_version}"
    )
    assert m.group(1) == ray_version
    # The image's Python satisfies the package's requires-python.
    req = re.fullmatch(r">=\s*3\.(\d+)", project()["requires-python"])
    assert req and int(m.group(2)) == 3 and int(m.group(3)) >= int(req.group(1))


def test_one_image_everywhere():
    images = {c["image"] for _, c in all_k8s_containers()}
    assert len(images) == 1, f"more than one image in the KubeRay specs: {images}"
    image = images.pop()
    name, _, tag = image.rpartition(":")
    # The image is built from cluster/Dockerfile: named after the project, tagged with its version
    # (a registry prefix is allowed).
    assert name.split("/")[-1] == project()["name"] and tag == project()["version"], image
    assert f"-t {image}" in dockerfile(), "the Dockerfile's build command tags a different image"
    # The AWS launcher runs the Dockerfile's base image and installs the package on top.
    aws = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    assert aws["docker"]["image"] == dockerfile_base()
    for nt in aws["available_node_types"].values():
        assert nt.get("docker", {}).get("worker_image", dockerfile_base()) == dockerfile_base()


def test_dockerfile_installs_the_package_without_secrets():
    text = dockerfile()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert any(re.search(r"pip install\b.*\s\.(\s|$)", ln) for ln in lines), "pip install . missing"
    assert not any(re.search(r"pip install\b.*\s-e\b|--editable", ln) for ln in lines), "editable install"
    # Copy only what the image needs; `COPY . .` would ship .venv, runs/ and any local secret files.
    assert not any(re.fullmatch(r"(COPY|ADD)\s+(--\S+\s+)*\.\s+\S+", ln) for ln in lines), (
        "copies the whole repo"
    )
    for ln in lines:
        if ln.startswith(("ENV", "ARG")):
            assert not re.search(r"(TOKEN|SECRET|PASSWORD|API_KEY|AWS_)", ln, flags=re.I), ln


def test_no_public_exposure():
    for path, d in k8s_docs():
        if d["kind"] == "Service":
            assert d["spec"].get("type", "ClusterIP") not in PUBLIC_SERVICE_TYPES, f"{path}: public Service"
        assert d["kind"] not in ("Ingress", "Route", "Gateway"), f"{path}: {d['kind']}"
    for label, spec in ray_cluster_specs():
        head = spec["headGroupSpec"]
        assert head.get("serviceType", "ClusterIP") == "ClusterIP", f"{label}: head serviceType"
        assert not head.get("enableIngress", False), f"{label}: enableIngress"
        assert (
            "headService" not in head
            or head["headService"].get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
        )
        for where, c in [(label, c) for c in containers(head["template"])]:
            for port in c.get("ports", []):
                assert "hostPort" not in port, f"{where}: hostPort {port}"


def test_dashboard_bound_to_loopback_or_operator_only():
    """The dashboard / job server (arbitrary code execution) binds 127.0.0.1.

    KubeRay injects dashboard-host=0.0.0.0 when the key is absent, so absence is flagged. The one
    exception is a RayJob's own cluster: the operator submits and polls the job through the head
    Service, so there it may bind 0.0.0.0, but only behind a ClusterIP Service with token auth.
    """
    for label, spec in ray_cluster_specs():
        host = spec["headGroupSpec"]["rayStartParams"].get("dashboard-host")
        assert host is not None, f"{label}: dashboard-host absent (KubeRay then binds 0.0.0.0)"
        if ".rayClusterSpec" in label:
            assert host in ("127.0.0.1", "0.0.0.0"), f"{label}: dashboard-host {host!r}"
            if host == "0.0.0.0":
                assert spec.get("authOptions", {}).get("mode") == "token", (
                    f"{label}: 0.0.0.0 without token auth"
                )
        else:
            assert host == "127.0.0.1", f"{label}: dashboard-host {host!r}"


def test_token_auth_everywhere():
    for label, spec in ray_cluster_specs():
        assert spec.get("authOptions", {}).get("mode") == "token", f"{label}: authOptions.mode token"
    aws = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in aws[key] if "ray start" in c]
        assert start and all("RAY_AUTH_MODE=token" in c for c in start), key
    assert "~/.ray/auth_token" in aws["file_mounts"]


def _entrypoint_argv(job: dict[str, Any]) -> list[str]:
    return shlex.split(job["spec"]["entrypoint"])


def _in_repo(path: str) -> Path:
    """An entrypoint path (absolute in the image's WORKDIR, or relative) -> the file in this repo."""
    workdir = dockerfile_workdir().rstrip("/") + "/"
    if path.startswith("/"):
        assert path.startswith(workdir), f"{path} is not under the image's WORKDIR {workdir}"
        path = path[len(workdir) :]
    return REPO / path


@pytest.mark.parametrize("label,job", rayjobs(), ids=lambda x: x if isinstance(x, str) else "")
def test_rayjob_entrypoint(label, job):
    spec = job["spec"]
    assert "rayClusterSpec" in spec or "clusterSelector" in spec, label
    assert spec.get("shutdownAfterJobFinishes") is True or "clusterSelector" in spec, label
    argv = _entrypoint_argv(job)
    assert argv[0] in ("python", "python3"), argv
    script = _in_repo(argv[1])
    assert script.parent == REPO / "jobs" and script.suffix == ".py" and script.is_file(), argv[1]
    assert argv[2] == "--config"
    config = _in_repo(argv[3])
    assert config.parent == REPO / "jobs" / "configs" and config.is_file(), argv[3]
    rest = argv[4:]
    assert len(rest) % 2 == 0 and all(f == "--set" and "=" in kv for f, kv in zip(rest[::2], rest[1::2])), (
        rest
    )


@pytest.mark.parametrize("label,job", rayjobs(), ids=lambda x: x if isinstance(x, str) else "")
def test_rayjob_outputs_go_to_shared_storage(label, job):
    """runs_dir must be on a volume every Ray pod mounts (a relative path would stay in one pod)."""
    sets = dict(kv.split("=", 1) for kv in _entrypoint_argv(job)[5::2])
    runs_dir = sets.get("runs_dir")
    assert runs_dir and runs_dir.startswith("/"), f"{label}: --set runs_dir=/shared/path"
    spec = job["spec"]["rayClusterSpec"]
    pod_templates = [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]
    for t in pod_templates:
        pvcs = {v["name"] for v in t["spec"].get("volumes", []) if "persistentVolumeClaim" in v}
        for c in containers(t):
            mounts = [m["mountPath"] for m in c.get("volumeMounts", []) if m["name"] in pvcs]
            assert any(runs_dir.startswith(m.rstrip("/") + "/") for m in mounts), (
                f"{label} {c['name']}: {runs_dir} is not on a shared volume"
            )


def test_shared_volume_is_read_write_many():
    claims = {d["metadata"]["name"]: d for _, d in k8s_docs() if d["kind"] == "PersistentVolumeClaim"}
    used = set()
    for _, spec in ray_cluster_specs():
        for t in [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]:
            used |= {
                v["persistentVolumeClaim"]["claimName"]
                for v in t["spec"].get("volumes", [])
                if "persistentVolumeClaim" in v
            }
    assert used and used <= set(claims), f"claims used {used}, defined {set(claims)}"
    for name in used:
        assert claims[name]["spec"]["accessModes"] == ["ReadWriteMany"], name


@pytest.mark.parametrize("label,job", rayjobs(), ids=lambda x: x if isinstance(x, str) else "")
def test_rayjob_config_and_overrides_resolve(label, job, capsys):
    """The entrypoint's --config/--set resolve to a valid config (catches renamed keys)."""
    from bert2dnn_ray import cli

    argv = _entrypoint_argv(job)
    script, config = _in_repo(argv[1]), _in_repo(argv[3])
    command = {Path(v).name: k for k, v in STAGE_SCRIPTS.items()}.get(script.name)
    assert command, f"{label}: unknown entry point {script.name}"
    rc = cli.main([command, "--config", str(config), *argv[4:], "--print-config"])
    out, err = capsys.readouterr()
    assert rc == 0, f"{label}: {err[-2000:]}"
    resolved = yaml.safe_load(out)
    sets = dict(kv.split("=", 1) for kv in argv[5::2])
    if "runs_dir" in sets:
        assert resolved["runs_dir"] == sets["runs_dir"]


# ------------------------------------------------------------------------------------------------
# AWS (Ray cluster launcher)
# ------------------------------------------------------------------------------------------------


def test_aws_launcher_structure():
    c = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    assert c["provider"]["type"] == "aws"
    types = c["available_node_types"]
    assert c["head_node_type"] in types
    workers = {k: v for k, v in types.items() if k != c["head_node_type"]}

    def has_gpu(nt: dict[str, Any]) -> bool:
        return (
            bool(GPU_INSTANCE.match(nt["node_config"]["InstanceType"]))
            or nt.get("resources", {}).get("GPU", 0) > 0
        )

    gpu_types = [k for k, v in workers.items() if has_gpu(v)]
    cpu_types = [k for k, v in workers.items() if not has_gpu(v)]
    assert gpu_types and cpu_types, f"need a GPU and a CPU worker type: {list(workers)}"
    assert not has_gpu(types[c["head_node_type"]])
    for k, v in workers.items():
        assert 0 <= v.get("min_workers", 0) <= v["max_workers"], k
    head_cmds = " ".join(c["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_cmds.replace(
        "--dashboard-host 127.0.0.1", "--dashboard-host=127.0.0.1"
    )
    assert "0.0.0.0" not in head_cmds
    # The package is installed (not editable) from the repo copied by file_mounts, minus local junk.
    mounted = [remote for remote, local in c["file_mounts"].items() if local in (".", "./")]
    assert mounted, "the repo is not in file_mounts"
    setup = " ".join(c["setup_commands"])
    assert any("pip install" in setup and m in setup for m in mounted) and " -e " not in setup
    assert {".venv", "runs", ".git"} <= set(c.get("rsync_exclude", []))


def test_aws_launcher_matches_rays_schema():
    """Validated with the schema the installed Ray's launcher uses (`ray up` does the same)."""
    pytest.importorskip("jsonschema")
    from ray.autoscaler._private.util import fillout_defaults, validate_config

    c = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    validate_config(fillout_defaults(c))
