# zenith-operator developer targets. Everything runs from a local virtualenv (.venv).
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
IMAGE ?= zenith-operator:0.1.0
DATABASE_IMAGE ?= zenith-database:0.1.0
CRD := deploy/crds/zenithclusters.huawei.cloudb.com.yaml

.PHONY: install test test-deep test-fast lint fmt typecheck crds crds-check run demo sandbox-up sandbox-down bench bench-scale layout image deploy undeploy e2e clean

install:  ## create .venv, install the package, PostgreSQL when missing
	./hack/install.sh

test: install  ## the whole suite (unit, conformance, agent, integration, sandbox scenarios)
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e"

test-deep: install  ## the HA properties with 20x the examples, fresh random seeds (no time limit)
	HYPOTHESIS_PROFILE=deep ZENITH_HYPOTHESIS_SCALE=$${ZENITH_HYPOTHESIS_SCALE:-20} \
		$(PY) -m pytest -q -p no:cacheprovider --timeout=0 tests/unit/ha

test-fast: install  ## unit tests only
	$(PY) -m pytest -q tests/unit

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: install
	$(PY) -m mypy

crds: install  ## regenerate deploy/crds from the pydantic models
	$(PY) -m zenith_operator crds --write $(CRD)

crds-check: install
	$(PY) -m zenith_operator crds --check $(CRD)

run: install  ## run the operator against the current kubeconfig
	$(PY) -m zenith_operator run

demo: install  ## the local sandbox demo: failover with real PostgreSQL, no cluster needed
	$(PY) -m zenith_operator sandbox demo

sandbox-up: install  ## start emulator + pod runtime + operator in the background (.sandbox/)
	$(PY) -m zenith_operator sandbox up

sandbox-down:
	$(PY) -m zenith_operator sandbox down

bench: install  ## failover timings over repeated runs, per fault kind
	$(PY) bench/failover.py

BENCH_SCALE_ARGS ?=
bench-scale: install  ## one operator, N = 10/100/500 clusters with agent doubles (BENCH_SCALE_ARGS=--quick)
	$(PY) bench/scale.py $(BENCH_SCALE_ARGS)

layout:  ## module sizes and import circles of the product and the sandbox (fails on a circle)
	python3 hack/layout.py

image:  ## the operator image and the database image (Dockerfile targets), with their sizes
	IMAGE=$(IMAGE) DATABASE_IMAGE=$(DATABASE_IMAGE) ./hack/image.sh

deploy:
	kubectl apply -k deploy/

undeploy:
	kubectl delete -k deploy/

e2e: install  ## e2e suite (kind, or ZENITH_E2E_KUBECONFIG + ZENITH_E2E_IMAGE; skips otherwise)
	$(PY) -m pytest -q tests/e2e -m e2e

clean:
	rm -rf .sandbox .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info sandbox/src/*.egg-info sandbox/build
