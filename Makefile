# The README's two commands: `make demo` and `make test`. Both create .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint bench clean fonts

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $@

# Best effort: a CJK font so Chinese column names in report plots are not drawn as boxes.
# Needs root and apt; elsewhere the report still renders, with boxes in plot labels only.
fonts:
	@if fc-list 2>/dev/null | grep -qiE 'wqy|noto sans cjk'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null) \
	  || echo "note: could not install fonts-wqy-microhei; plots will show boxes for Chinese labels"; \
	else echo "note: no CJK font found; install fonts-wqy-microhei for Chinese labels in plots"; fi

demo: $(VENV)/.installed fonts
	$(BIN)/mofang demo

test: $(VENV)/.installed-test fonts
	$(BIN)/python -m pytest -q

# style, the import layers (pyproject.toml [tool.importlinter]) and types ([tool.mypy])
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python bench/tabular.py
	$(BIN)/python bench/pii.py
	$(BIN)/python bench/data.py --skip-dj  # Data-Juicer needs its own venv: see bench/data.py

clean:
	rm -rf $(VENV) .mofang demo
