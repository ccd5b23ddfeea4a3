# mmmtl developer entry points. `make demo` and `make test` are the README's commands.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmmtl-installed
JOBS   ?= 2

.PHONY: install demo test lint bench clean-demo

# Idempotent: (re)runs tools/install.sh only when the requirements changed.
$(STAMP): tools/install.sh setup.py requirements/build.txt requirements/mmcv.txt \
          requirements/runtime.txt requirements/tests.txt
	bash tools/install.sh
	touch $(STAMP)

install: $(STAMP)

# The main job: synthetic data -> teacher, student baseline, KDAM student -> table + pictures.
demo: install
	$(PY) tools/run_demo.py

test: install
	$(PY) -m pytest tests -n $(JOBS) -q -p no:cacheprovider

lint: install
	$(PY) -m ruff check mmmtl tools tests configs

clean-demo:
	rm -rf work_dirs/demo data/synthetic_nyud
