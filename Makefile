# mmmtl developer entry points. `make demo` and `make test` are the README's commands.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmmtl-installed
JOBS   ?= 2

.PHONY: install demo test test-quick lint bench clean-demo

# Idempotent: (re)runs tools/install.sh only when the requirements changed.
$(STAMP): tools/install.sh setup.py requirements/build.txt requirements/mmcv.txt \
          requirements/runtime.txt requirements/tests.txt
	bash tools/install.sh
	touch $(STAMP)

install: $(STAMP)

# The main job: synthetic data -> teacher, student baseline, KDAM student -> table + pictures.
demo: install
	$(PY) tools/run_demo.py

# Every test, including the end-to-end runs of the tools (marked `slow`). A
# test file stays on one worker, so the runs a file shares are made once.
test: install
	$(PY) -m pytest tests -n $(JOBS) --dist loadfile -q -p no:cacheprovider

# The quick loop while developing: everything but the `slow` end-to-end runs.
test-quick: install
	$(PY) -m pytest tests -n $(JOBS) --dist loadfile -q -p no:cacheprovider -m "not slow"

lint: install
	$(PY) -m ruff check mmmtl tools tests configs

clean-demo:
	rm -rf work_dirs/demo data/synthetic_nyud
