# Everything a fresh machine needs is installed by these targets themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two install steps into one environment: serving needs only the `serve` extra (no torch,
# no test stack); the tests, training and benchmarks need everything.
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP   := $(VENV)/.installed

.PHONY: serve system-deps demo demo-train test lint typecheck unit data train-default models loadtest bench soak hostile audit clean

$(BIN)/python:
	@echo "creating $(VENV) (Python: $$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	@echo "installing the serving dependencies into $(VENV): .[serve] (ONNX Runtime, FastAPI; no torch; about 300 MB)"
	$(BIN)/pip install -e '.[serve]'
	touch $(SERVE_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "installing the training, test and load-test stack into $(VENV): .[serve,train,dev,loadtest,bench] (torch, playwright, locust, litserve, ...; about 1.8 GB)"
	$(BIN)/pip install -e '.[serve,train,dev,loadtest,bench]'
	touch $(DEV_STAMP) $(SERVE_STAMP)

## serve: the service on the committed default models, http://127.0.0.1:8000 (docs at /docs).
serve: $(SERVE_STAMP)
	$(BIN)/attnserve serve

## demo: the committed default models on ONNX Runtime: validate them, classify, translate.
demo: $(SERVE_STAMP)
	$(BIN)/attnserve models
	$(BIN)/attnserve predict sentiment "A moving, beautifully acted film." "Dull, and far too long."
	$(BIN)/attnserve predict en-fr "Save changes" "The file {name} could not be deleted." "You have %d new messages."

## demo-train: build the real corpora, train both models on the quick profile, evaluate them.
demo-train: $(DEV_STAMP)
	$(BIN)/attnserve data
	$(BIN)/attnserve train classifier --quick --out runs/quick/sentiment
	$(BIN)/attnserve evaluate runs/quick/sentiment
	$(BIN)/attnserve train translator --quick --out runs/quick/en-fr
	$(BIN)/attnserve evaluate runs/quick/en-fr

## train-default: the full training of both default models (about 70 minutes on 2 cores:
## the classifier's 3 × 4, the translator's budget of 57 and their corpora).
train-default: $(DEV_STAMP)
	$(BIN)/attnserve data
	$(BIN)/attnserve train classifier --seeds 1,3,4 --out runs/sentiment
	$(BIN)/attnserve evaluate runs/sentiment
	$(BIN)/attnserve train translator --out runs/en-fr
	$(BIN)/attnserve evaluate runs/en-fr

## models: rebuild the committed default models from scratch: data, train, export (with
## parity, decoding identity, test-split and held-out figures and speed) into
## model_repository/sentiment/3 (an ensemble of three seeds) and model_repository/en-fr/5,
## then retire their graphs but fp32, as the repository holds them (to stay under 100 MB).
models: $(DEV_STAMP)
	$(BIN)/attnserve data
	$(BIN)/attnserve train classifier --seeds 1,3,4 --out runs/sentiment
	$(BIN)/attnserve train translator --out runs/en-fr
	$(BIN)/attnserve export runs/sentiment --version 3 --force
	$(BIN)/attnserve export runs/en-fr --version 5 --precisions fp32,int8 --force
	$(BIN)/python -c "$$RETIRE" model_repository/sentiment/3 model_repository/en-fr/5

define RETIRE
import sys; from pathlib import Path; from export.repository import retire_precisions
for folder in sys.argv[1:]: retire_precisions(Path(folder), ("fp32",), "the repository stays under 100 MB")
endef
export RETIRE

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy core runtime attnserve models export service benchmarks loadtest

unit: $(DEV_STAMP)
	$(BIN)/pytest

## system-deps: Debian tools the tests run for real (Prometheus, promtool, docker-compose
## for `config`, Chromium for the explorer's browser tests); installed only when missing
## (needs root and apt-get).
## The Kubernetes tests also need kubectl ≥ 1.27 (`kubectl kustomize`, kustomize v5), which
## these machines ship; Debian's own kubernetes-client (1.20) is too old for the manifests.
SYSTEM_TOOLS := prometheus promtool docker-compose chromium
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus docker-compose chromium >/dev/null; \
	fi
	@command -v kubectl >/dev/null || echo "kubectl not found: the Kubernetes tests will fail; install kubectl >= 1.27 (https://kubernetes.io/docs/tasks/tools/)"

## test: lint + types + the whole test suite.
test: system-deps lint typecheck unit

## loadtest: a headless locust run against a running service, reports in reports/
## (URL, USERS, DURATION below; the mix and shape from LOADTEST_* variables, see docs/loadtest.md).
URL      ?= http://127.0.0.1:8000
USERS    ?= 32
DURATION ?= 1m
loadtest: $(DEV_STAMP)
	LOADTEST_DATA=$${LOADTEST_DATA:-data} $(BIN)/locust -f loadtest/locustfile.py --headless \
	  -H $(URL) -u $(USERS) -r 8 -t $(DURATION) --csv reports/loadtest --html reports/loadtest.html

## bench: the benchmark (about 4 minutes): the service against ONNX Runtime alone, a naive
## PyTorch endpoint and the PyTorch reference decoder; bench-results/ (see docs/PERFORMANCE.md).
bench: $(DEV_STAMP)
	$(BIN)/attnserve data
	$(BIN)/attnserve bench --out bench-results

## soak: an hour at 20 requests/s against the service: memory over time, latency per ten
## minutes, growth target under 5 % (not part of `make test`); soak-results/.
soak: $(DEV_STAMP)
	$(BIN)/attnserve data
	$(BIN)/python -m benchmarks.soak --minutes 60 --rate 20 --out soak-results

## hostile: the hardening review's findings at full size against a server of its own (about
## six minutes; each is replayed small in `make test`): docs/reliability.md#the-front-door.
hostile: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.hostile --start

## audit: known vulnerabilities in the pinned dependencies (pip-audit; needs the PyPI JSON
## API or OSV on the network, which these machines cannot reach; --strict fails rather
## than report "clean" for a package it could not check).
audit: $(DEV_STAMP)
	$(BIN)/pip install -q pip-audit==2.10.1
	$(BIN)/pip freeze --exclude-editable > .audit-requirements.txt
	$(BIN)/pip-audit --strict --no-deps --disable-pip -r .audit-requirements.txt

data: $(DEV_STAMP)
	$(BIN)/attnserve data

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
