# meshsim: two commands on a fresh machine.
#   make run   -> .venv, install, start the what-if UI on the bundled default model
#   make test  -> .venv, install, run every test (installs Debian's chromium when missing and root)
# then:
#   make notebook -> JupyterLab on notebooks/ (installs the notebook extra once)
#   .venv/bin/meshsim ... (or `source .venv/bin/activate` and type meshsim)
# and, for contributors:
#   make lint  -> ruff (lint and format), mypy --strict, import-linter contracts
#   make bench -> engine benchmarks (ratios against baselines run in the same process)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB_STAMP := $(VENV)/.notebook
PORT   ?= 8501

.PHONY: run test venv chromium bench clean lint notebook

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
	$(BIN)/streamlit run app.py --server.port $(PORT) --browser.gatherUsageStats false

# Both cores: the suite is independent tests (each run is seeded), so xdist only reorders them.
test: venv chromium
	$(BIN)/python -m pytest -q -n 2

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
