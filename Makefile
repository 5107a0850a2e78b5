# meshsim: two commands on a fresh machine.
#   make run   -> .venv, install, start the what-if UI on the bundled default model
#   make test  -> .venv, install, run every test (installs Debian's chromium when missing and root)
# then:
#   make notebook -> JupyterLab on notebooks/ (installs the notebook extra once)
#   .venv/bin/meshsim ... (or `source .venv/bin/activate` and type meshsim)
# and, for contributors:
#   make lint  -> ruff (lint and format), mypy --strict, import-linter contracts
#   make bench -> engine benchmarks (ratios against baselines run in the same process)
#   make fuzz  -> a long fuzz campaign (FUZZ_CASES inputs) printing the count of each outcome

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB_STAMP := $(VENV)/.notebook
PORT   ?= 8501
# The UI listens on this machine only; HOST=0.0.0.0 serves it to the network on purpose.
HOST   ?= 127.0.0.1
# Largest upload the UI accepts, MB (app.py refuses a scenario file over 1 MB itself too).
UPLOAD_MB ?= 1
FUZZ_CASES ?= 10000
FUZZ_WORKERS ?= 2

.PHONY: run test venv chromium bench clean lint fuzz notebook

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Browser tests drive Debian's chromium; a browser download (playwright install) cannot work here.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null) \
	      || echo "could not install chromium: the browser test will say why it is skipped"; \
	  else \
	    echo "no /usr/bin/chromium and not root: the browser test will be skipped (apt-get install chromium)"; \
	  fi; \
	fi

$(NB_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,notebook]"
	touch $(NB_STAMP)

# root (a container) must say --allow-root, or JupyterLab refuses to start
notebook: $(NB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

run: venv
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
	  --server.maxUploadSize $(UPLOAD_MB) --browser.gatherUsageStats false

# Both cores: the suite is independent tests (each run is seeded), so xdist only reorders them.
test: venv chromium
	$(BIN)/python -m pytest -q -n 2

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Mutated scenarios, SLO files, mesh configurations, traces and metrics through the meshsim
# command; prints counts per outcome class and exits 1 on any traceback, hang or crash.
fuzz: venv
	$(BIN)/python -m tests.fuzz.campaign --cases $(FUZZ_CASES) --workers $(FUZZ_WORKERS)

bench: venv
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
