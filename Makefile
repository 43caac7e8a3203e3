# cim: city information model pipeline. `make run` and `make test` work from a clean clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STORE ?= cim-data
CONFIG ?= sample_models/cim.toml
PORT ?= 4200
VIEW_PORT ?= 8700

export UV_PYTHON_DOWNLOADS := never
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PREFECT_LOGGING_EXTRA_LOGGERS := cim

.PHONY: run install test serve query review clash bench lint clean samples lifecycle view

# run/serve take CONFIG, STORE and PORT through the environment: no value is ever parsed by the shell.
run serve: export CIM_CONFIG = $(CONFIG)
run serve: export CIM_STORE = $(STORE)
serve: export CIM_PORT = $(PORT)

run: install ## ingest the sample city into ./cim-data with the nightly flow (once); exit 1 if a file was quarantined
	$(PY) -m flows.nightly run

$(PY):
	python3 -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv pip install -q --compile-bytecode -r requirements.lock
	VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv pip install -q --no-deps -e .
	@# Bytecode now, not on every start: where PYTHONDONTWRITEBYTECODE is set nothing is cached, and each `cim`
	@# command would recompile pandas, pyarrow and cim itself (seconds per `cim query`).
	$(PY) -m compileall -q -j 0 cim flows >/dev/null
	touch $@

# The front end (CesiumJS viewer, glTF validator, 3d-tiles-tools, Playwright's browser driver) comes from the
# npm registry, pinned by viewer/package-lock.json; install scripts are not run (none of what cim uses needs
# them). Without npm, cim still works; only `cim view` and the browser/validator tests are unavailable.
FRONT := viewer
FRONT_STAMP := $(FRONT)/node_modules/.installed
$(FRONT_STAMP): $(FRONT)/package.json $(FRONT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(FRONT) --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else echo "npm not found: the 3-D viewer is not installed (install Node.js 20 and npm, then run make install)"; fi

install: $(STAMP) $(FRONT_STAMP) ## create .venv, install the pinned Python dependencies and the viewer's npm packages

test: install ## run the test suite
	$(PY) -m pytest -q -n 2 --dist loadfile

serve: install ## start a local Prefect server (UI on PORT) and run the flow on the config's [schedule]; Ctrl-C stops all
	$(PY) -m flows.nightly serve

# Values given on the command line (SQL, paths, a parcel id) reach these recipes only as environment
# variables: $(value ...) keeps make from expanding them and the shell expands "$$ARG_Q" without parsing
# the value again, so quotes, backticks, $$(...), semicolons and newlines stay text and never run.
# (make would also export the raw variables, expanding them first: unexport them.)
unexport Q MODEL PARCEL OUT STORE CONFIG REVIEW VIEW_PORT
query review clash view: export ARG_STORE = $(value STORE)
query review clash view: export ARG_CONFIG = $(value CONFIG)
view: export ARG_REVIEW = $(value REVIEW)
view: export ARG_PORT = $(value VIEW_PORT)
query: export ARG_Q = $(value Q)
review: export ARG_MODEL = $(value MODEL)
review: export ARG_PARCEL = $(value PARCEL)
review: export ARG_OUT = $(value OUT)

query: install ## run read-only SQL: make query Q="SELECT * FROM models"
	$(VENV)/bin/cim query --store="$$ARG_STORE" -- "$$ARG_Q"

review: install ## check a submission: make review MODEL=path/to/model.ifc [PARCEL=BH-02] [OUT=dir]
	@test -n "$$ARG_MODEL" || { echo "usage: make review MODEL=path/to/model.ifc [PARCEL=id] [OUT=dir]"; exit 2; }
	@test -d "$$ARG_STORE/models" || $(MAKE) --no-print-directory run
	$(VENV)/bin/cim review --store="$$ARG_STORE" --config="$$ARG_CONFIG" \
		$(if $(value PARCEL),--parcel="$$ARG_PARCEL") $(if $(value OUT),--out="$$ARG_OUT") -- "$$ARG_MODEL"

view: install ## the city in 3-D in the browser: http://127.0.0.1:8700/ (VIEW_PORT=, REVIEW=review/<name>/report.json); Ctrl-C stops
	@test -d "$$ARG_STORE/models" || $(MAKE) --no-print-directory run
	$(VENV)/bin/cim view --store="$$ARG_STORE" --config="$$ARG_CONFIG" --port="$$ARG_PORT" \
		$(if $(value REVIEW),--review="$$ARG_REVIEW")

clash: install ## re-check the city's clash rules and export JSON + BCF into $(STORE)/exports
	$(VENV)/bin/cim clash check --store="$$ARG_STORE" --config="$$ARG_CONFIG" --out="$$ARG_STORE/exports" \
		|| test $$? -eq 1

# The sample building through every stage gate, in a store of its own (cim-lifecycle/, made afresh each time,
# so ./cim-data is never touched): each step must end with the exit code written before it (0 pass, 1 fail,
# 2 refused), else the walk stops.
LC := $(VENV)/bin/cim
LC_OPTS := --store=cim-lifecycle --config=sample_models/cim.toml
LC_MODEL := submission-compliant
lifecycle: install ## walk the sample building plan -> design -> as-built (bad, then ok) -> handover
	rm -rf cim-lifecycle gates/$(LC_MODEL)
	$(LC) ingest sample_models/city.gpkg sample_models/tunnel/utility_tunnel.ifc $(LC_OPTS)
	$(LC) review sample_models/submissions/compliant.ifc --accept --out=gates/$(LC_MODEL)/plan $(LC_OPTS)
	$(LC) gate design $(LC_MODEL) --ifc=sample_models/lifecycle/design.ifc $(LC_OPTS)
	$(LC) gate completion $(LC_MODEL) --ifc=sample_models/lifecycle/as_built_bad.ifc $(LC_OPTS); test $$? -eq 1
	$(LC) gate handover $(LC_MODEL) $(LC_OPTS); test $$? -eq 2
	$(LC) gate completion $(LC_MODEL) --ifc=sample_models/lifecycle/as_built_ok.ifc $(LC_OPTS)
	$(LC) gate handover $(LC_MODEL) $(LC_OPTS)
	$(LC) lifecycle $(LC_MODEL) --store=cim-lifecycle

samples: install ## regenerate sample_models/ (byte-identical)
	$(VENV)/bin/cim samples sample_models

bench: install ## run the benchmarks (figures go to bench/out/); installs the bench-only baselines (IfcClash, ifc5d)
	VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv pip install -q ifcclash==0.9.0 ifc5d==0.9.0 ifcdiff==0.9.0
	$(PY) -m bench.run_all
	$(PY) -m bench.qto
	$(PY) -m bench.clash
	$(PY) -m bench.review
	$(PY) -m bench.query
	$(PY) -m bench.diff

lint: install ## ruff
	$(VENV)/bin/ruff check .

clean: ## remove the store, Prefect state and caches (keeps .venv)
	rm -rf $(STORE) .prefect .pytest_cache .ruff_cache review bench/out gates cim-lifecycle diff out
