"""The cluster specs under cluster/: they parse, have the structure KubeRay / the Ray cluster launcher
require, agree with each other (one image, one Ray version), expose nothing publicly, run as
Kubernetes' "restricted" Pod Security Standard requires, and the image builds reproducibly.

Fast and offline: PyYAML, Ray's own launcher schema, and the released KubeRay v1.5.1 CRDs in
../shared/schemas/kuberay-v1.5.1/ (every RayCluster / RayJob is validated against their OpenAPI
schema, strictly: an unknown field is an error); no cluster, no Ray runtime.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openapi_strict
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
DOCKERIGNORE = REPO / ".dockerignore"
# The released KubeRay CRDs (see ../shared/schemas/README.md); CI has ../shared beside the clone.
CRDS = REPO.parent / "shared" / "schemas" / "kuberay-v1.5.1"
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}
# The rayproject/ray images' user "ray" and its group "users".
RAY_UID, RAY_GID = 1000, 100
CUDA12_TORCH_INDEX = re.compile(r"^https://download\.pytorch\.org/whl/cu12\d+$")
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


def pod_templates() -> list[tuple[str, dict[str, Any]]]:
    """(label, pod template) of every pod the specs make: heads, worker groups, RayJob submitters."""
    out = []
    for label, spec in ray_cluster_specs():
        out.append((f"{label} head", spec["headGroupSpec"]["template"]))
        out += [(f"{label} {g['groupName']}", g["template"]) for g in spec.get("workerGroupSpecs", [])]
    for label, job in rayjobs():
        if "submitterPodTemplate" in job["spec"]:
            out.append((f"{label} submitter", job["spec"]["submitterPodTemplate"]))
    return out


def all_k8s_containers() -> list[tuple[str, dict[str, Any]]]:
    return [(label, c) for label, t in pod_templates() for c in containers(t)]


def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in dockerfile().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    return out


def dockerfile_args() -> dict[str, str]:
    return dict(a.split("=", 1) for k, a in dockerfile_instructions() if k == "ARG" and "=" in a)


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


def _copy_sources(args: str) -> list[str]:
    """The source paths of a COPY / ADD (its --flags and the destination dropped)."""
    words = [w for w in shlex.split(args) if not w.startswith("--")]
    return words[:-1]


def test_dockerfile_installs_dependencies_before_the_code():
    """A layer with the dependencies, built from pyproject.toml alone, comes before the code is
    copied: changing the code rebuilds only the package's own (small, --no-deps) install."""
    steps = dockerfile_instructions()
    copies = [(i, _copy_sources(a)) for i, (k, a) in enumerate(steps) if k in ("COPY", "ADD")]
    code = min(i for i, src in copies if any(s.rstrip("/") == "bert2dnn_ray" for s in src))
    meta = [i for i, src in copies if "pyproject.toml" in src]
    assert meta and meta[0] < code, "pyproject.toml is not copied before the package code"
    # Nothing but project metadata goes into the dependencies layer.
    for i, src in copies:
        if i < code:
            assert set(src) <= {"pyproject.toml", "README.md", "setup.cfg"}, f"copied before the deps: {src}"
    runs = [(i, a) for i, (k, a) in enumerate(steps) if k == "RUN" and "pip install" in a]
    deps = [i for i, a in runs if meta[0] < i < code]
    assert deps, "no pip install of the dependencies between COPY pyproject.toml and COPY bert2dnn_ray"
    assert not any(re.search(r"pip install\b[^&;]*\s\.(\s|$)", a) for i, a in runs if i in deps), (
        "the dependencies layer installs the package itself"
    )
    package = [a for i, a in runs if i > code and re.search(r"pip install\b[^&;]*\s\.(\s|$)", a)]
    assert package and all("--no-deps" in a for a in package), "the package is installed with --no-deps"


def test_image_pins_torch_to_a_cuda12_build():
    """Unpinned, `pip install` takes PyPI's torch: the CUDA 13 build, needing a driver >= 580. The
    image and the launcher's nodes install an exact CUDA 12 build first, the version tests run."""
    from packaging.specifiers import SpecifierSet

    args = dockerfile_args()
    version, index = args.get("TORCH_VERSION"), args.get("TORCH_INDEX")
    assert version and index and CUDA12_TORCH_INDEX.match(index), (version, index)
    torch_req = next(r for r in project()["dependencies"] if re.match(r"torch\b", r))
    assert version in SpecifierSet(torch_req[len("torch") :]), f"{version} outside {torch_req}"
    make_pin = re.search(r"^TORCH_SPEC \?= torch==(\S+)$", (REPO / "Makefile").read_text(), flags=re.M)
    assert make_pin and make_pin.group(1) == version, "the image's torch differs from `make install`'s"
    runs = [(i, a) for i, (k, a) in enumerate(dockerfile_instructions()) if k == "RUN" and "pip install" in a]
    torch_runs = [
        i for i, a in runs if '"torch==${TORCH_VERSION}"' in a and '--index-url "${TORCH_INDEX}"' in a
    ]
    deps = [i for i, a in runs if "-r " in a or "requirements" in a]
    assert torch_runs and deps and torch_runs[0] < deps[0], "torch must be installed before the other deps"
    # The AWS launcher's nodes (same base image, package installed by setup_commands).
    setup = yaml.safe_load(AWS.read_text(encoding="utf-8"))["setup_commands"]
    pinned = [i for i, c in enumerate(setup) if f"torch=={version}" in c and f"--index-url {index}" in c]
    package = [i for i, c in enumerate(setup) if "~/bert2dnn-ray" in c and "pip install" in c]
    assert pinned and package and pinned[0] < package[0], setup


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus **, relative to the context root)."""
    out, i, pattern = "", 0, pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + r"\Z")


def dockerignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out: the last matching pattern decides, and a
    pattern that matches a parent directory matches everything below it."""
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    parts, excluded = path.split("/"), False
    for ln in (ln for ln in lines if ln and not ln.startswith("#")):
        negated = ln.startswith("!")
        rx = _dockerignore_regex(ln.lstrip("!"))
        if any(rx.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_the_build_context_small():
    """`docker build ... .` sends the whole repo to the builder unless .dockerignore says otherwise:
    the .venv (GBs), runs/, data files, .git."""
    assert DOCKERIGNORE.is_file(), "no .dockerignore at the repo root"
    for path in [
        ".venv/lib/python3.11/site-packages/torch/__init__.py",
        ".git/HEAD",
        "runs/smoke/data/train.parquet",
        "data/sst2/train.parquet",
        "jobs/configs/some.parquet",
        "teacher/model.safetensors",
        "runs/smoke/export/student.onnx",
        "benchmarks/results/bench_label.json",
        "bert2dnn_ray/__pycache__/io.cpython-311.pyc",
    ]:
        assert dockerignored(path), f"{path} is sent to the builder"
    # ... but everything the Dockerfile copies is still there.
    for k, args in dockerfile_instructions():
        if k in ("COPY", "ADD") and "--from" not in args:
            for src in _copy_sources(args):
                assert (REPO / src).exists(), src
                files = [REPO / src] if (REPO / src).is_file() else list((REPO / src).rglob("*.py"))
                for f in files:
                    assert not dockerignored(f.relative_to(REPO).as_posix()), f"{f} is excluded but copied"


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


def test_shared_volume_names_its_storage_class():
    """An RWX claim left to the cluster's default class stays Pending on EKS / GKE / AKS (their
    defaults are block storage, ReadWriteOnce): the class is an explicit, documented setting."""
    claims = [(p, d) for p, d in k8s_docs() if d["kind"] == "PersistentVolumeClaim"]
    assert claims
    for path, d in claims:
        spec = d["spec"]
        assert isinstance(spec.get("storageClassName"), str) and spec["storageClassName"], (
            f"{path.name}: storageClassName must name an RWX class (not the cluster default)"
        )
        assert "kubectl get storageclass" in path.read_text(encoding="utf-8"), path
    readme = (CLUSTER / "README.md").read_text(encoding="utf-8")
    assert "storageClassName" in readme and "kubectl get storageclass" in readme


# ------------------------------------------------------------------------------------------------
# Pod security: Kubernetes' "restricted" Pod Security Standard
# ------------------------------------------------------------------------------------------------

# The volume types the restricted profile admits.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_container_violations(where: str, sc: dict[str, Any]) -> list[str]:
    """A container securityContext against the restricted profile (pod-level fields checked apart)."""
    bad = []
    if sc.get("allowPrivilegeEscalation") is not False:
        bad.append(f"{where}: allowPrivilegeEscalation must be false")
    caps = sc.get("capabilities", {})
    if "ALL" not in caps.get("drop", []):
        bad.append(f"{where}: capabilities.drop must include ALL")
    if not set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}:
        bad.append(f"{where}: capabilities.add {caps['add']}")
    if sc.get("privileged"):
        bad.append(f"{where}: privileged")
    if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
        bad.append(f"{where}: runs as root")
    if sc.get("seccompProfile", {}).get("type", "RuntimeDefault") not in ("RuntimeDefault", "Localhost"):
        bad.append(f"{where}: seccompProfile {sc['seccompProfile']}")
    return bad


def restricted_pod_violations(label: str, template: dict[str, Any]) -> list[str]:
    spec = template["spec"]
    bad = [f"{label}: {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    for v in spec.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            bad.append(f"{label}: volume {v['name']} is {kinds - RESTRICTED_VOLUMES}")
    sc = spec.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True:
        bad.append(f"{label}: securityContext.runAsNonRoot must be true")
    for key in ("runAsUser", "runAsGroup"):
        value = sc.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            bad.append(f"{label}: securityContext.{key} must be a numeric non-root id, got {value!r}")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        bad.append(f"{label}: securityContext.seccompProfile.type must be RuntimeDefault")
    # The shared volume must be writable by the pods' group.
    if any("persistentVolumeClaim" in v for v in spec.get("volumes", [])) and not isinstance(
        sc.get("fsGroup"), int
    ):
        bad.append(f"{label}: securityContext.fsGroup must be set (a shared volume is mounted)")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key, []):
            where = f"{label} {c['name']}"
            bad += restricted_container_violations(where, c.get("securityContext", {}))
            bad += [f"{where}: hostPort {p['hostPort']}" for p in c.get("ports", []) if p.get("hostPort")]
    return bad


@pytest.mark.parametrize("label,template", pod_templates(), ids=lambda x: x if isinstance(x, str) else "")
def test_pods_meet_the_restricted_pod_security_standard(label, template):
    """Namespaces labelled pod-security.kubernetes.io/enforce=restricted admit only such pods."""
    assert restricted_pod_violations(label, template) == []
    # The numbers are the image's own user and group, so the files it owns (/app, ~/) stay usable.
    sc = template["spec"]["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"]) == (RAY_UID, RAY_GID), label
    assert sc.get("fsGroup", RAY_GID) == RAY_GID, label


@pytest.mark.parametrize("label,spec", ray_cluster_specs(), ids=lambda x: x if isinstance(x, str) else "")
def test_injected_containers_are_restricted_too(label, spec):
    """KubeRay adds the autoscaler sidecar to the head pod (its securityContext comes from
    autoscalerOptions) and a wait-gcs-ready init container to workers (a copy of the Ray
    container's securityContext, checked with the pods)."""
    if spec.get("enableInTreeAutoscaling"):
        sc = spec.get("autoscalerOptions", {}).get("securityContext", {})
        assert restricted_container_violations(f"{label} autoscaler", sc) == []


@pytest.mark.parametrize("label,job", rayjobs(), ids=lambda x: x if isinstance(x, str) else "")
def test_rayjob_submitter_pod_is_restricted(label, job):
    """Without submitterPodTemplate KubeRay's default submitter pod has no securityContext, and a
    restricted namespace refuses it: the RayJob would never be submitted."""
    template = job["spec"].get("submitterPodTemplate")
    assert template, f"{label}: no submitterPodTemplate"
    assert template["spec"].get("restartPolicy") in ("Never", "OnFailure"), f"{label}: a Job's restartPolicy"
    head_image = containers(job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"])[0]["image"]
    assert containers(template)[0]["image"] == head_image, label
    assert restricted_pod_violations(f"{label} submitter", template) == []


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


def test_aws_workers_have_an_instance_profile():
    """The launcher gives only the head an IAM profile (its default ray-autoscaler-v1); a worker
    without one has no AWS credentials, so an s3:// runs_dir fails on every worker."""
    c = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    for name, nt in c["available_node_types"].items():
        if name == c["head_node_type"]:
            continue
        profile = nt["node_config"].get("IamInstanceProfile", {})
        assert re.fullmatch(
            r"arn:aws:iam::[^:]+:instance-profile/\S+", profile.get("Arn", "")
        ) or profile.get("Name"), (
            f"{name}: node_config.IamInstanceProfile {{Arn: arn:aws:iam::ACCOUNT:instance-profile/NAME}}"
        )
    readme = (CLUSTER / "README.md").read_text(encoding="utf-8")
    assert "IamInstanceProfile" in readme and "iam:PassRole" in readme


def test_aws_launcher_matches_rays_schema():
    """Validated with the schema the installed Ray's launcher uses (`ray up` does the same)."""
    pytest.importorskip("jsonschema")
    from ray.autoscaler._private.util import fillout_defaults, validate_config

    c = yaml.safe_load(AWS.read_text(encoding="utf-8"))
    validate_config(fillout_defaults(c))


# ------------------------------------------------------------------------------------------------
# KubeRay CRD schema (strict)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    """kind -> the openAPIV3Schema of the CRD's served storage version v1."""
    if not all((CRDS / name).is_file() for name in CRD_FILES.values()):
        pytest.skip(f"the KubeRay v1.5.1 CRDs are not at {CRDS} (../shared/schemas beside the repo)")
    out = {}
    for kind, name in CRD_FILES.items():
        crd = yaml.load(
            (CRDS / name).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
        assert crd["kind"] == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == kind
        (version,) = [
            v for v in crd["spec"]["versions"] if v["name"] == "v1" and v["served"] and v["storage"]
        ]
        out[kind] = version["schema"]["openAPIV3Schema"]
    return out


def crd_errors(doc: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> list[str]:
    """What the API server would refuse in ``doc``. metadata is ObjectMeta, which the CRD leaves to
    the API server's built-in schema, so it is not part of the check."""
    assert doc["apiVersion"] == "ray.io/v1", doc["apiVersion"]
    return openapi_strict.validate({k: v for k, v in doc.items() if k != "metadata"}, schemas[doc["kind"]])


def kuberay_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.name}:{d['metadata']['name']}", d) for p, d in k8s_docs() if d["kind"] in CRD_FILES]


@pytest.mark.parametrize("label,doc", kuberay_docs(), ids=lambda x: x if isinstance(x, str) else "")
def test_kuberay_manifests_match_the_crd_schema(label, doc, schemas):
    assert crd_errors(doc, schemas) == [], label


def _rayjob() -> dict[str, Any]:
    (doc,) = [d for label, d in kuberay_docs() if label.startswith("rayjob-pipeline.yaml:")]
    return copy.deepcopy(doc)


def _head(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["rayClusterSpec"]["headGroupSpec"]


def _head_pod(doc: dict[str, Any]) -> dict[str, Any]:
    return _head(doc)["template"]["spec"]


# A way to break the pipeline RayJob (changed in place) -> what the error must say.
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "unknown field in a container": (
        lambda d: _head_pod(d)["containers"][0].update(imagePullPolicyy="Always"),
        ".containers[0].imagePullPolicyy: unknown field",
    ),
    "unknown field in a securityContext": (
        lambda d: _head_pod(d).setdefault("securityContext", {}).update(runAsUserr=1000),
        ".securityContext.runAsUserr: unknown field",
    ),
    "unknown field in the spec": (
        lambda d: d["spec"].update(shutdownAfterJobFinish=True),
        ".spec.shutdownAfterJobFinish: unknown field",
    ),
    "replicas as a string": (
        lambda d: d["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].update(replicas="1"),
        ".workerGroupSpecs[0].replicas: expected integer",
    ),
    "an unquoted rayStartParams value": (
        lambda d: _head(d)["rayStartParams"].update({"num-cpus": 0}),
        ".rayStartParams.num-cpus: expected string",
    ),
    "a resource quantity as a list": (
        lambda d: _head_pod(d)["containers"][0]["resources"]["limits"].update(cpu=[4]),
        ".limits.cpu: expected an int or a string",
    ),
    "a malformed resource quantity": (
        lambda d: _head_pod(d)["containers"][0]["resources"]["limits"].update(cpu="4 cores"),
        ".limits.cpu: '4 cores' does not match",
    ),
    "a value outside an enum": (
        lambda d: d["spec"]["rayClusterSpec"]["authOptions"].update(mode="tokens"),
        ".authOptions.mode: 'tokens' is not one of",
    ),
    "two containers with one name": (
        lambda d: _head_pod(d)["containers"].append(copy.deepcopy(_head_pod(d)["containers"][0])),
        ".containers: duplicate entries",
    ),
    "a missing required field": (
        lambda d: _head(d).pop("template"),
        ".headGroupSpec.template: required",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_crd_validation_is_strict(case, schemas):
    """A broken copy of a manifest is refused, as `kubectl apply` (strict field validation) would."""
    mutate, expected = BROKEN[case]
    doc = _rayjob()
    assert crd_errors(doc, schemas) == []
    mutate(doc)
    errors = crd_errors(doc, schemas)
    assert any(expected in e for e in errors), errors


def test_crd_validation_accepts_what_kubernetes_accepts(schemas):
    doc = _rayjob()
    _head_pod(doc)["containers"][0]["resources"]["limits"].update(cpu=4)  # int-or-string: an int is fine
    doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["rayStartParams"] = {"num-gpus": "1"}
    assert crd_errors(doc, schemas) == []


def test_strict_validator_semantics():
    """The rules the CRD tests rely on, on small schemas."""
    check = openapi_strict.validate
    obj = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert check({"a": 1}, obj) == []
    assert check({"a": 1, "b": 2}, obj) == [".b: unknown field"]
    assert check({}, obj) == [".a: required"]
    assert check({"a": True}, obj)  # a bool is not an integer
    assert check({"a": 1, "b": {"c": [1]}}, {**obj, "x-kubernetes-preserve-unknown-fields": True}) == []
    assert check({"a": 1, "b": "x"}, {**obj, "additionalProperties": True}) == []
    assert check({"a": 1, "b": "x"}, {**obj, "additionalProperties": False}) == [".b: unknown field"]
    assert check({"a": 1, "b": 2}, {**obj, "additionalProperties": {"type": "string"}})
    int_or_string = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert check(1, int_or_string) == [] and check("1", int_or_string) == []
    assert check(1.5, int_or_string)
    keyed = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    assert check([{"name": "x"}, {"name": "y"}], keyed) == []
    assert check([{"name": "x"}, {"name": "x"}], keyed)
