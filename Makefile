VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q  # 2 workers, one BLAS thread each: no oversubscription

demo: $(STAMP)
	$(PY) -m autocompyute.cli demo

bench: $(STAMP)
	$(PY) scripts/bench_train.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
