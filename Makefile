# bert2dnn-ray: one command per promise. `make smoke` and `make test` install first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
export RAY_USAGE_STATS_ENABLED=0
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false

.PHONY: install smoke test lint bench bench-label bench-label-gpu bench-student bench-scale bench-daily data reproduce clean

# Idempotent: the stamp is newer than pyproject.toml once the install has succeeded.
install: $(VENV)/.installed

# uv installs the project's dependencies in ~30 s where pip takes ~65 s on 2 cores (the same
# versions; the torch pinned first already satisfies the project's range). USE_UV=0, or uv failing,
# installs with pip alone (e.g. where only pip is set up for a private index).
USE_UV ?= 1
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# Pin the local CPU build of torch first, so no multi-GB CUDA build is pulled in.
	$(PIP) install -q "$(TORCH_SPEC)"
	if [ "$(USE_UV)" = 1 ] && $(PIP) install -q "uv>=0.5,<1" \
	  && $(PY) -m uv pip install -q --compile-bytecode --python $(PY) -e ".[dev]"; then :; \
	else $(PIP) install -q -e ".[dev]"; fi
	# The project's own modules as bytecode too: where PYTHONDONTWRITEBYTECODE is set, every
	# Ray worker would compile them again (~0.1 s a process).
	$(PY) -m compileall -q bert2dnn_ray
	touch $@

smoke: install
	$(VENV)/bin/bert2dnn pipeline --config jobs/configs/smoke.yaml

test: install
	$(PY) -m pytest -q -ra --durations=12

lint: install
	$(VENV)/bin/ruff check bert2dnn_ray jobs tests benchmarks recipes
	$(VENV)/bin/ruff format --check bert2dnn_ray jobs tests benchmarks recipes

bench: bench-label bench-student

bench-label: install
	$(PY) benchmarks/bench_label.py

# Needs a CUDA GPU (and a CUDA build of torch); not part of `make bench`.
bench-label-gpu: install
	$(PY) benchmarks/bench_label_gpu.py

bench-student: install
	$(PY) benchmarks/bench_student.py

# The scale rehearsal: a 5M- and a 50M-row query log through labeling (dedup: join) and a student
# epoch on a simulated 3-node cluster; about an hour on 2 cores. Not part of `make bench`.
bench-scale: install
	$(PY) benchmarks/bench_scale.py $(BENCH_SCALE_ARGS)

# Daily distillation: two days of a query log labeled with the label store against a full relabel
# of day 2 (~10 min on 2 cores). Not part of `make bench`.
bench-daily: install
	$(PY) benchmarks/bench_daily.py $(BENCH_DAILY_ARGS)

# SST-2 and the IMDB transfer set under data/: from ../shared/data when present, else downloaded
# from the official sources; checksums verified either way.
data: install
	$(VENV)/bin/bert2dnn datasets $(DATA_ARGS)

# BERT2DNN's public experiment (issue 7): teachers, soft labels, students, report in
# benchmarks/results/sst2_imdb.md. Re-running skips finished stages. On a small CPU machine:
#   make reproduce REPRODUCE_ARGS="--set transfer_rows=150000"
reproduce: data
	$(PY) -m recipes.sst2_imdb --config jobs/configs/sst2_imdb.yaml $(REPRODUCE_ARGS)

clean:
	rm -rf runs .pytest_cache
