"""``bert2dnn submit``: argument wiring without a cluster, and one real job on a loopback Ray head."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import pytest

from bert2dnn_ray import Student, cli, pipeline, submit
from bert2dnn_ray.config import apply_overrides, build, read_yaml
from bert2dnn_ray.errors import Bert2dnnError

REPO = Path(__file__).resolve().parents[1]
SMOKE = "jobs/configs/smoke.yaml"


def parse(*argv: str) -> argparse.Namespace:
    """The way cli.py wires it: ``submit.add_parser(sub)`` on the ``bert2dnn`` sub-commands."""
    parser = argparse.ArgumentParser(prog="bert2dnn")
    sub = parser.add_subparsers(dest="command", required=True)
    submit.add_parser(sub)
    return parser.parse_args(["submit", *argv])


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """n distinct free ports: every socket stays bound until all are picked (picking them one at
    a time could return a port twice, and `ray start` refuses two components on one port)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("RAY_JOBS_ADDRESS", "RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


# ------------------------------------------------------------------------------------------------
# Parsing and building the job (no cluster)
# ------------------------------------------------------------------------------------------------


def test_parser_fields():
    a = parse(
        "pipeline", "-c", SMOKE, "--set", "a=1", "-s", "b.c=[x]", "--no-wait", "--address", "http://h:8265"
    )
    assert a.command == "submit" and a.stage == "pipeline" and a.config == SMOKE
    assert a.overrides == ["a=1", "b.c=[x]"] and a.no_wait and a.address == "http://h:8265"
    assert a.working_dir == "." and a.runtime_env is None and a.stop is None and not a.dry_run
    b = parse("--stop", "raysubmit_abc", "--address", "http://h:8265")
    assert b.stop == "raysubmit_abc" and b.stage is None and b.overrides == []


def test_unknown_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        parse("distill", "-c", SMOKE)
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_stage_to_script_mapping(capsys, monkeypatch):
    expected = {
        "datasets": "jobs/prepare_data.py",
        "finetune": "jobs/finetune_teacher.py",
        "label": "jobs/label.py",
        "augment": "jobs/augment.py",
        "train": "jobs/train_student.py",
        "evaluate": "jobs/evaluate.py",
        "export": "jobs/export.py",
        "pipeline": "jobs/pipeline.py",
    }
    assert submit.STAGE_SCRIPTS == expected
    # Every jobs/*.py is a registry stage's entry point, and nothing else is in jobs/.
    assert sorted(p.name for p in (REPO / "jobs").glob("*.py")) == sorted(
        Path(s).name for s in expected.values()
    )
    # The entry point runs the CLI command of the same stage (its --help is that command's): one
    # as its own process, the others run as __main__ in this one (an interpreter start each cost 2 s).
    r = subprocess.run(
        [sys.executable, expected["pipeline"], "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.startswith("usage: bert2dnn pipeline "), r.stderr[-500:]
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "path", list(sys.path))  # each script puts the repo first on it
    for stage, script in expected.items():
        assert (REPO / script).is_file(), script
        monkeypatch.setattr(sys, "argv", [script, "--help"])
        with pytest.raises(SystemExit) as e:
            runpy.run_path(script, run_name="__main__")
        assert e.value.code == 0 and capsys.readouterr().out.startswith(f"usage: bert2dnn {stage} "), script
        ep = submit.build_entrypoint(stage, str(REPO / SMOKE), ["x=1"], str(REPO))
        assert shlex.split(ep) == ["python", script, "--config", SMOKE, "--set", "x=1"]


def test_entrypoint_quotes_yaml_values_for_the_shell():
    ep = submit.build_entrypoint(
        "pipeline", SMOKE, ["stages=[data]", "name=my run", "runs_dir=/tmp/a b"], str(REPO)
    )
    assert shlex.split(ep)[4:] == [
        "--set",
        "stages=[data]",
        "--set",
        "name=my run",
        "--set",
        "runs_dir=/tmp/a b",
    ]


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "http://127.0.0.1:8265"),
        ({"RAY_ADDRESS": "10.0.0.5:6379"}, "http://127.0.0.1:8265"),  # a GCS address is not the job server
        ({"RAY_ADDRESS": "http://head:8265"}, "http://head:8265"),
        ({"RAY_ADDRESS": "https://head:443"}, "https://head:443"),
        ({"RAY_JOBS_ADDRESS": "http://jobs:8265", "RAY_ADDRESS": "http://head:8265"}, "http://jobs:8265"),
    ],
)
def test_default_address(env, expected):
    assert submit.default_address(env) == expected


def test_dry_run_uses_the_default_address_and_uploads_the_repo(clean_env, capsys):
    clean_env.setenv("RAY_ADDRESS", "http://head.example:8265")
    args = parse("train", "-c", str(REPO / SMOKE), "--working-dir", str(REPO), "--dry-run")
    assert submit.main(args) == 0
    out = capsys.readouterr().out
    assert "address:     http://head.example:8265" in out
    assert f"entrypoint:  python jobs/train_student.py --config {SMOKE}" in out
    env = json.loads(out.split("runtime_env: ", 1)[1])
    assert env["working_dir"] == str(REPO)
    assert {".venv", "runs", ".git", "**/__pycache__"} <= set(env["excludes"])
    assert env["env_vars"]["PYTHONUNBUFFERED"] == "1"


def test_relative_outputs_warn(clean_env, capsys):
    args = parse("pipeline", "-c", SMOKE, "--working-dir", str(REPO), "--dry-run")
    assert submit.main(args) == 0
    assert "runs_dir='runs' is relative" in capsys.readouterr().err
    args = parse(
        "pipeline", "-c", SMOKE, "--working-dir", str(REPO), "--set", "runs_dir=/mnt/shared/runs", "--dry-run"
    )
    assert submit.main(args) == 0
    assert "relative" not in capsys.readouterr().err


def test_runtime_env_merge(tmp_path):
    f = tmp_path / "env.yaml"
    f.write_text("env_vars: {HF_HUB_OFFLINE: '1'}\nexcludes: ['*.ckpt']\n")
    env = submit.build_runtime_env(str(REPO), submit.load_runtime_env(str(f)))
    assert env["env_vars"] == {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    assert env["excludes"][0] == "*.ckpt" and ".venv" in env["excludes"]
    inline = submit.load_runtime_env('{"working_dir": "s3://bucket/repo.zip", "pip": ["x"]}')
    remote = submit.build_runtime_env(str(REPO), inline)
    assert remote["working_dir"] == "s3://bucket/repo.zip" and "excludes" not in remote
    # A remote working dir: the script and config are not checked locally, the path is passed as is.
    ep = submit.build_entrypoint("label", "jobs/configs/remote.yaml", [], None)
    assert ep == "python jobs/label.py --config jobs/configs/remote.yaml"


@pytest.mark.parametrize(
    "argv, message",
    [
        (("pipeline",), "--config FILE.yaml is required"),
        (("pipeline", "-c", "jobs/configs/nope.yaml"), "no such file"),
        (("pipeline", "-c", SMOKE, "--set", "novalue"), "expected KEY=VALUE"),
        (("pipeline", "-c", SMOKE, "--runtime-env", "{not json"), "cannot parse"),
        (("pipeline", "-c", SMOKE, "--runtime-env", "missing.yaml"), "no such file"),
        (("pipeline", "-c", SMOKE, "--working-dir", "/nonexistent-dir"), "no such directory"),
        ((), "a STAGE is required"),
        (("pipeline", "--stop", "raysubmit_x"), "not both"),
    ],
)
def test_usage_errors_are_one_line(argv, message, clean_env, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(submit.SubmitError) as e:
        submit.main(parse(*argv, "--dry-run") if "--stop" not in argv else parse(*argv))
    assert isinstance(e.value, Bert2dnnError) and e.value.exit_code == 2
    assert message in str(e.value) and "\n" not in str(e.value)


def test_config_outside_the_working_dir_is_refused(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("name: x\n")
    with pytest.raises(submit.SubmitError, match="outside the working dir"):
        submit.build_entrypoint("pipeline", str(cfg), [], str(REPO))
    with pytest.raises(submit.SubmitError, match="not found: run from the repo root"):
        submit.build_entrypoint("pipeline", str(cfg), [], str(tmp_path))


@pytest.mark.parametrize("address", ["127.0.0.1:8265", "ray://head:10001", "http://"])
def test_bad_address(address, clean_env):
    with pytest.raises(submit.SubmitError, match="not a Ray Jobs address"):
        submit.main(parse("--stop", "raysubmit_x", "--address", address))


def test_unreachable_server_is_one_line_and_fast(clean_env, capsys):
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(submit.SubmitError) as e:
        submit.main(parse("--stop", "raysubmit_x", "--address", f"http://127.0.0.1:{port}"))
    assert time.monotonic() - t0 < 5
    assert f"cannot reach the Ray job server at http://127.0.0.1:{port}" in str(e.value)
    assert "\n" not in str(e.value)
    # Through the standalone entry point: exit code 2, one line on stderr, no traceback.
    rc = submit.cli(
        ["pipeline", "-c", SMOKE, "--working-dir", str(REPO), "--address", f"http://127.0.0.1:{port}"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("bert2dnn submit: error: cannot reach")


def test_auth_headers(clean_env, tmp_path):
    assert submit._auth_headers() == {}
    clean_env.setenv("RAY_AUTH_TOKEN", "tok-env")
    assert submit._auth_headers() == {"Authorization": "Bearer tok-env"}
    clean_env.delenv("RAY_AUTH_TOKEN")
    f = tmp_path / "token"
    f.write_text("tok-file\n")
    clean_env.setenv("RAY_AUTH_TOKEN_PATH", str(f))
    assert submit._auth_headers() == {"Authorization": "Bearer tok-file"}
    clean_env.delenv("RAY_AUTH_TOKEN_PATH")
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("RAY_AUTH_MODE", "token")
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("tok-home")
    assert submit._auth_headers() == {"Authorization": "Bearer tok-home"}
    clean_env.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    with pytest.raises(submit.SubmitError, match="cannot read the Ray auth token file"):
        submit._auth_headers()


def test_cli_dispatches_submit():
    """cli.py registers ``submit`` (the lead wires ``submit.add_parser`` into ``build_parser``)."""

    parser = cli.build_parser(with_keys=False)
    try:
        args = parser.parse_args(["submit", "pipeline", "-c", SMOKE, "--dry-run"])
    except SystemExit:
        pytest.skip("cli.py does not register the submit command yet")
    assert args.command == "submit" and args.stage == "pipeline"


# ------------------------------------------------------------------------------------------------
# End to end: a real Ray head on loopback, a real job
# ------------------------------------------------------------------------------------------------


def _dashboard_available() -> str | None:
    try:
        importlib.import_module("ray.dashboard.optional_deps")
    except ImportError as e:
        return f"the Ray job server needs ray[default] on the head ({e})"
    return None


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop the head we started: its process and all its descendants, by pid (never `ray stop`,
    which would kill every Ray on the machine)."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


def _wait_for_job_server(url: str, token: str, head: subprocess.Popen, log: Path, deadline: float) -> None:
    req = urllib.request.Request(f"{url}/api/version", headers={"Authorization": f"Bearer {token}"})
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"the job server at {url} did not come up:\n{log.read_text()[-3000:]}")


def _check_export(export: Path) -> None:
    """The exported student loads and predicts; ONNX and the one-text path agree with it."""
    from bert2dnn_ray.student import OnnxStudent

    s = Student.load(export)
    assert s.label_names == ["electronics", "fashion", "home", "grocery"]
    texts = ["wireless noise cancelling headphones", "organic green tea bags", "queen size duvet cover"]
    p = s.predict(texts)
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(OnnxStudent.load(export).predict(texts), p, atol=1e-5)
    np.testing.assert_allclose(s.predict_one(texts[0]), p[0], atol=1e-6)
    q = OnnxStudent.load(export, precision="int8")  # export writes the int8 model by default
    assert np.abs(q.predict(texts) - p).max() <= 0.02
    assert (q.predict(texts).argmax(1) == p.argmax(1)).all()


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_submit_smoke_pipeline_end_to_end(tmp_path, clean_env, capsys, tiny_bert_factory, s3_server):
    """The smoke pipeline as a Ray Job on a loopback head, with every output and checkpoint on
    shared object storage (s3://, a loopback moto server), as on a cloud cluster."""
    reason = _dashboard_available()
    if reason:
        pytest.skip(reason)
    ray_exe = Path(sys.executable).with_name("ray")
    token = os.urandom(16).hex()
    gcs, dash_port, agent, metrics, client = free_ports(5)
    ports = {
        "--port": gcs,
        "--dashboard-port": dash_port,
        "--dashboard-agent-listen-port": agent,
        "--metrics-export-port": metrics,
        "--ray-client-server-port": client,
    }
    # Short path: Ray's unix sockets live under the temp dir (108-byte limit).
    temp_dir = tempfile.mkdtemp(prefix="b2d", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=token,
        RAY_TRAIN_HEALTH_CHECK_INTERVAL_S=os.environ["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"],  # conftest's
        # The job's `python` is the one on the head's PATH: this venv's.
        PATH=f"{ray_exe.parent}{os.pathsep}{env.get('PATH', '')}",
        # The nodes' S3 credentials and endpoint (on a cloud cluster: the nodes' IAM role).
        **s3_server[1],
    )
    cmd = [str(ray_exe), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    cmd += ["--dashboard-host", "127.0.0.1", "--include-dashboard", "true", "--num-cpus", "2"]
    cmd += ["--temp-dir", temp_dir, "--disable-usage-stats"]
    for flag, port in ports.items():
        cmd += [flag, str(port)]
    log = tmp_path / "ray_start.log"
    url = f"http://127.0.0.1:{dash_port}"
    t0 = time.monotonic()
    with open(log, "w") as logf:
        head = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_job_server(url, token, head, log, deadline=time.monotonic() + 60)
        t_up = time.monotonic() - t0

        # Token authentication is on: without the token, one clear line (exit code 2).
        with pytest.raises(submit.SubmitError, match="token"):
            submit.main(parse("--stop", "raysubmit_nope", "--address", url))

        clean_env.setenv("RAY_AUTH_TOKEN", token)
        runs = f"{s3_server[0]}/submit_e2e/runs"
        # The smoke pipeline, every stage, sized down: a tiny BERT teacher (built from a
        # BertConfig, saved with save_pretrained) and small generated data. This is also the
        # end-to-end test of the pipeline's numbers (issue: one e2e run, not two).
        small = [
            f"runs_dir={runs}",
            "data.synthetic.num_labeled=800",
            "data.synthetic.num_dev=200",
            "data.synthetic.num_test=300",
            "data.synthetic.num_unlabeled=3000",
            "data.synthetic.seed=5",
            f"finetune.teachers.0.model={tiny_bert_factory(4, seed=3)}",
            "finetune.teachers.0.epochs=6",
            "finetune.teachers.0.learning_rate=0.005",
            "finetune.teachers.0.max_length=24",
            "label.chunk_rows=1000",
            "augment.variants=2",  # perturbed copies of train, labeled too: the student learns from both
            "train.epochs=3",
            "train.learning_rate=0.05",
            "train.featurizer.num_buckets=16384",
            "train.model.hidden=[64,32]",
            "train.run.checkpoint_every_steps=10",
            "evaluate.latency_samples=20",
        ]
        set_args = [a for kv in small for a in ("--set", kv)]
        # A user runtime_env that sets variables the library passes to ray.init itself (the
        # cluster README's example): Ray refuses to merge overlapping env_vars, so the library
        # must leave the job's to the job.
        user_env = json.dumps({"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})
        args = parse(
            "pipeline",
            "--address",
            url,
            "--config",
            str(REPO / SMOKE),
            "--working-dir",
            str(REPO),
            "--runtime-env",
            user_env,
            *set_args,
        )
        t1 = time.monotonic()
        rc = submit.main(args)
        t_job = time.monotonic() - t1
        out, err = capsys.readouterr()
        assert rc == 0, out[-3000:] + err[-3000:]
        job_id = out.splitlines()[0].strip()
        assert job_id.startswith("raysubmit_"), out[:500]
        assert "export finished" in out, out[-3000:]  # the job's logs were followed
        assert f"job {job_id} SUCCEEDED" in err
        # Every output is on S3 (nothing under the job's working dir); check a local copy of it.
        remote = f"{runs}/smoke"
        run = tmp_path / "run_copy"
        pafs.copy_files(remote, str(run))
        assert (run / "_checkpoints").is_dir() and (run / "teachers" / "minilm" / "_SUCCESS.json").is_file()
        for name in ("train", "dev", "test", "unlabeled"):
            assert (run / "data" / f"{name}.parquet").stat().st_size > 0, name
        manifest = json.loads((run / "soft_labels" / "manifest.json").read_text())
        assert manifest["input_rows"] == 3000 == manifest["labeled_rows"] + manifest["quarantined_rows"]
        copies = json.loads((run / "augmented" / "manifest.json").read_text())
        assert copies["input_rows"] == 800 and 0 < copies["output_rows"] <= 1600
        soft_aug = json.loads((run / "soft_augmented" / "manifest.json").read_text())
        assert soft_aug["input_rows"] == copies["output_rows"]
        trained = json.loads((run / "student" / "metrics.json").read_text())
        assert trained["train_rows"] == manifest["labeled_rows"] + soft_aug["labeled_rows"]
        ev = json.loads((run / "eval.json").read_text())
        models = {m["model"]: m for m in ev["models"]}
        # A 4-class task (chance 0.25): the tiny teacher learns it, and the student learns the teacher.
        assert models["teacher:minilm"]["accuracy"] > 0.6
        assert models["student"]["accuracy"] > 0.6
        assert ev["retention"] == pytest.approx(
            models["student"]["accuracy"] / models["teacher:minilm"]["accuracy"]
        )
        assert ev["retention"] > 0.85
        assert models["student"]["p50_us"] < models["teacher:minilm"]["p50_us"]
        _check_export(run / "export")
        texts = ["usb c charger", "linen bed sheets"]
        np.testing.assert_allclose(  # the artifact loads straight from its URI, too
            Student.load(f"{remote}/export").predict(texts), Student.load(run / "export").predict(texts)
        )

        # Running again (in process, no job) skips every finished stage and leaves results alone.
        fs, weights = pafs.FileSystem.from_uri(f"{remote}/student/model.safetensors")
        before = fs.get_file_info(weights).mtime
        cfg = build(pipeline.PipelineConfig, apply_overrides(read_yaml(REPO / SMOKE), small), source=SMOKE)
        pipeline.run(cfg.model_copy(update={"stages": ["finetune", "label", "train"]}))
        assert fs.get_file_info(weights).mtime == before

        # --stop on a finished job: nothing to stop, exit code 1.
        assert submit.main(parse("--stop", job_id, "--address", url)) == 1
        stages = [
            ln.split("|", 1)[1].strip() for ln in out.splitlines() if " finished in " in ln and "|" in ln
        ]
        print(
            f"[timing] head up {t_up:.1f}s, job submitted+followed {t_job:.1f}s: {stages}",
            file=sys.__stderr__,
        )
    finally:
        _kill_tree(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_job_driver_leaves_the_jobs_env_vars_to_the_job(monkeypatch):
    """Inside a Ray Job, ray.init gets only the variables the job's runtime_env does not set: Ray
    refuses to merge a ray.init runtime_env whose env_vars overlap the job's."""
    import ray

    from bert2dnn_ray import runtime

    got = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: got.update(kw))
    monkeypatch.setattr(runtime, "_configure_ray_data", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    job = {"runtime_env": {"env_vars": {"HF_HUB_OFFLINE": "1"}, "pip": ["x"], "working_dir": "/w"}}
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps(job))
    runtime.init_ray("127.0.0.1:6379")
    assert got["address"] == "127.0.0.1:6379"
    env_vars = got["runtime_env"]["env_vars"]
    assert "HF_HUB_OFFLINE" not in env_vars and env_vars["TOKENIZERS_PARALLELISM"] == "false"
    # never pip / working_dir: the job's own; the library's worker setup hook (quiet Ray logs)
    assert set(got["runtime_env"]) == {"env_vars", "worker_process_setup_hook"}
    job["runtime_env"]["worker_process_setup_hook"] = "users.own.hook"  # the job's hook wins
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps(job))
    got.clear()
    runtime.init_ray("127.0.0.1:6379")
    assert set(got["runtime_env"]) == {"env_vars"}
    # Outside a job, the driver passes them all.
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR")
    got.clear()
    runtime.init_ray("127.0.0.1:6379")
    assert got["runtime_env"]["env_vars"]["HF_HUB_OFFLINE"] == "1"


def test_init_ray_reads_parquet_with_the_v1_datasource_unless_the_user_chose(monkeypatch):
    """Ray's V2 Parquet reader starts 32 actors per read (19x slower on 2,000 small files here):
    the library's driver uses V1, and a user's RAY_DATA_USE_DATASOURCE_V2 wins."""
    import ray
    from ray.data import DataContext

    from bert2dnn_ray import runtime

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: None)
    ctx = DataContext.get_current()
    monkeypatch.setattr(ctx, "use_datasource_v2", True)
    monkeypatch.delenv("RAY_DATA_USE_DATASOURCE_V2", raising=False)
    runtime.init_ray()
    assert ctx.use_datasource_v2 is False
    ctx.use_datasource_v2 = True
    monkeypatch.setenv("RAY_DATA_USE_DATASOURCE_V2", "1")
    runtime.init_ray()
    assert ctx.use_datasource_v2 is True
    # A driver that called ray.init itself (a notebook, a user's script) gets the same reads.
    monkeypatch.delenv("RAY_DATA_USE_DATASOURCE_V2")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "init", lambda **kw: pytest.fail("joined twice"))
    runtime.init_ray()
    assert ctx.use_datasource_v2 is False
