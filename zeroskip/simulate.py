"""``zeroskip simulate DIR --inputs FILE``: run a compiled design in Verilator and check it.

Every input vector goes through the Verilated EIE array of ``DIR`` (written
by ``zeroskip compile`` or ``zeroskip demo``); every output must equal the
golden model bit for bit and every cycle count the cycle model. Exit status 0
when all do, 1 when any differs (the differing vectors are listed), 2 for bad
input.

Inputs are ``.npy`` (a 2-D array, one vector per row) or ``.npz`` (``x``, and
optional integer labels ``y`` for an accuracy). Float arrays are quantized to
the design's activation format (``act_frac_bits`` of its side-car); integer
arrays are taken as that fixed-point format already and must fit 16 bits.
"""

import sys
from pathlib import Path

import numpy as np

from sw_model.fixed import ACT_BITS, int_range, to_fixed

from .compression import load_compiled
from .errors import EXIT_FAILED, EXIT_OK, UserError
from .report import eie_lines, pct
from .training import accuracy
from .weights import load_array, load_npz, unreadable_file

__all__ = ["HELP", "add_arguments", "run", "load_inputs", "cycle_summary", "simulate_eie",
           "differences"]

HELP = "run a compiled design in Verilator on input vectors; check outputs and cycles"

#: Differing vectors listed on stderr before "... and N more".
_LISTED = 10


def add_arguments(parser):
    """The options of ``zeroskip simulate``."""
    parser.add_argument("folder", metavar="DIR",
                        help="compiled folder, from `zeroskip compile` or `zeroskip demo`")
    parser.add_argument("--inputs", required=True, metavar="FILE",
                        help="input vectors: .npy (vectors x inputs) or .npz with x and "
                             "optional integer labels y; floats are quantized to the design's "
                             "activation format, integers are taken as fixed point already")
    parser.add_argument("--save", metavar="FILE",
                        help="also write the RTL's outputs and cycles, and the models', to "
                             "this .npz")


def _check_vectors(x, path, name, n_inputs):
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise UserError(f"{name} in {str(path)!r} must hold real numbers, not dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != n_inputs or x.shape[0] == 0:
        raise UserError(f"{name} in {str(path)!r} must have shape (vectors, {n_inputs}) for "
                        f"the design's {n_inputs} inputs, not {x.shape}")


def load_inputs(path, *, n_inputs, act_frac_bits):
    """Input vectors of ``path`` as fixed-point ``int64`` and the labels (or ``None``)."""
    path = Path(path)
    if path.suffix == ".npz":
        archive = load_npz(path, "inputs file")
        if "x" not in archive.files:
            raise UserError(f"inputs file {str(path)!r} has no array 'x' (found "
                            f"{', '.join(sorted(archive.files)) or 'nothing'})")
        with archive:
            x, name = load_array(archive, "x", path), "array 'x'"
            y = load_array(archive, "y", path) if "y" in archive.files else None
    elif path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except OSError as exc:
            raise unreadable_file("inputs file", path, exc) from None
        except EOFError:
            raise UserError(f"inputs file {str(path)!r} is empty, not a .npy array") from None
        except ValueError as exc:
            raise UserError(f"inputs file {str(path)!r} is not a .npy of plain numbers: "
                            f"{exc}") from None
        name, y = "the array", None
    else:
        raise UserError(f"inputs file {str(path)!r} must be .npy or .npz, not "
                        f"{path.suffix or 'a file without a suffix'!r}")
    _check_vectors(x, path, name, n_inputs)
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = int_range(ACT_BITS)
        if x.min() < lo or x.max() > hi:
            raise UserError(f"{name} in {str(path)!r} holds integers from {x.min()} to "
                            f"{x.max()}, outside the signed {ACT_BITS}-bit activation range "
                            f"[{lo}, {hi}] (integers are taken as fixed point; pass floats to "
                            f"have them quantized)")
        acts = x.astype(np.int64)
    else:
        if not np.all(np.isfinite(x)):
            raise UserError(f"{name} in {str(path)!r} holds non-finite values")
        acts = to_fixed(x.astype(np.float64), act_frac_bits)
    if y is not None and (y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer)):
        raise UserError(f"array 'y' in {str(path)!r} must be integer labels of shape "
                        f"({x.shape[0]},), not {y.dtype} {y.shape}")
    return acts, None if y is None else y.astype(np.int64)


def cycle_summary(cycles, ideal, layers, n_pe, *, check=None):
    """Cycles per inference against the ideal and the dense array, as a ``dict``.

    ``cycles`` and ``ideal`` have one value per vector; ``check`` (an
    :class:`~zeroskip.rtl.EieCheck`) marks ``cycles`` as measured on the RTL
    and adds how many vectors differ from the models.
    """
    cycles = np.asarray(cycles, dtype=np.float64)
    ideal = np.asarray(ideal, dtype=np.float64)
    dense_macs = sum(layer.n_rows * layer.n_cols for layer, _ in layers)
    dense_cycles = dense_macs / n_pe
    summary = {
        "source": "cycle model" if check is None else "rtl",
        "vectors": len(cycles),
        "cycles_mean": float(cycles.mean()),
        "cycles_min": int(cycles.min()), "cycles_max": int(cycles.max()),
        "ideal_mean": float(ideal.mean()),
        "load_balance_efficiency": float(ideal.sum() / cycles.sum()),
        "dense_macs": int(dense_macs),
        "dense_array_cycles": dense_cycles,
        "speedup_over_dense": float(dense_cycles / cycles.mean()),
        "dense_equivalent_macs_per_cycle": float(dense_macs / cycles.mean()),
    }
    if check is not None:
        summary.update(
            outputs_differing=int(np.count_nonzero(~check.outputs_match)),
            cycles_differing=int(np.count_nonzero(~check.cycles_match)),
            rtl_equals_golden=bool(check.outputs_match.all()),
            rtl_cycles_equal_model=bool(check.cycles_match.all()))
    return summary


def simulate_eie(sidecar, layers, acts, *, build_dir, progress):
    """Run ``acts`` on the written design and check it: ``(EieRun, EieCheck)``."""
    from .rtl import check_eie, run_eie

    run = run_eie(sidecar, layers, acts, build_dir=build_dir, progress=progress)
    return run, check_eie(run, layers, acts)


def differences(run, check):
    """One line per vector whose outputs or cycles differ from the models."""
    lines = []
    for v in np.flatnonzero(~(check.outputs_match & check.cycles_match)):
        parts = []
        if not check.outputs_match[v]:
            wrong = int(np.count_nonzero(run.outputs[v] != check.golden[v]))
            parts.append(f"{wrong} output(s) differ from the golden model")
        if not check.cycles_match[v]:
            parts.append(f"{int(run.cycles[v])} cycles, the cycle model says "
                         f"{int(check.model_cycles[v])}")
        lines.append(f"vector {v}: " + "; ".join(parts))
    if len(lines) > _LISTED:
        lines = lines[:_LISTED] + [f"... and {len(lines) - _LISTED} more"]
    return lines


def run(args):
    """Check everything, simulate, compare, print; return the exit status."""
    compiled = load_compiled(args.folder)
    config = compiled.design.config
    n_inputs = compiled.layers[0][0].n_inputs
    acts, labels = load_inputs(args.inputs, n_inputs=n_inputs,
                               act_frac_bits=config.act_frac_bits)
    if args.save is not None:
        save = Path(args.save)
        if save.suffix != ".npz" or not save.parent.is_dir() or save.is_dir():
            raise UserError(f"--save must name an .npz file in an existing folder, "
                            f"not {args.save!r}")
    progress = args.progress
    progress.total = 1
    with progress.step(f"Verilator simulation of {compiled.folder}, {len(acts)} vector(s)"):
        sim_run, check = simulate_eie(compiled.sidecar, compiled.layers, acts,
                                      build_dir=compiled.folder / "sim", progress=progress)
    summary = cycle_summary(sim_run.cycles, check.ideal_cycles, compiled.layers, config.n_pe,
                            check=check)
    lines = [f"# {compiled.folder} on {args.inputs}", ""] + eie_lines(summary, config.to_dict())
    if labels is not None:
        lines += [f"Accuracy on the labels of {args.inputs}: RTL "
                  f"{pct(accuracy(np.argmax(sim_run.outputs, axis=1), labels))}, golden model "
                  f"{pct(accuracy(np.argmax(check.golden, axis=1), labels))}.", ""]
    print("\n".join(lines).rstrip())
    if args.save is not None:
        np.savez(args.save, outputs=sim_run.outputs, cycles=sim_run.cycles,
                 golden=check.golden, model_cycles=check.model_cycles,
                 ideal_cycles=check.ideal_cycles)
    if not check.ok:
        for line in differences(sim_run, check):
            print(f"zeroskip simulate: {line}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
