# meshsim: two commands on a fresh machine.
#   make run   -> .venv, install, start the what-if UI on the bundled default model
#   make test  -> .venv, install, run every test (installs Debian's chromium when missing and root)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test venv chromium bench clean lint

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

run: venv
	@if [ -f app.py ] && $(BIN)/python -c "import streamlit" 2>/dev/null; then \
	  $(BIN)/streamlit run app.py --server.port $(PORT) --browser.gatherUsageStats false; \
	else \
	  $(BIN)/meshsim run models/online-boutique.yaml; \
	fi

test: venv chromium
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
