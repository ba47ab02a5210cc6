"""Synthesis of a compiled EIE design in the background, beside the simulations.

Place and route is a single-threaded tool run of minutes, so the demo starts
it as soon as the design exists and collects the result at the end. It runs
in a child process that leads its own process group: when the demo fails
or is interrupted, :meth:`SynthJob.cancel` ends that group, yosys and
nextpnr included, instead of leaving them running or waiting for them. The
child rebuilds the design from the configuration and the encoded layers (the
side-car and ``model.npz`` of the compiled folder), sends the flow's progress
lines to the parent, and sends back the results or the reason for a failure.
"""

import multiprocessing
import os
import signal
import threading

__all__ = ["CACHE_DIR", "SynthJob", "summarize"]

#: Results of identical earlier runs (the flow's cache, keyed by netlist and tool versions).
CACHE_DIR = "build/synth-cache"


def summarize(results, *, target_mhz):
    """The figures of a :func:`synth.flow.run_flow` result that the report shows."""
    seed = results["seeds"][0]
    util = seed["utilization"]

    def use(*kinds):
        for kind in kinds:
            if kind in util:
                return {"used": util[kind]["used"], "available": util[kind]["available"]}
        return {"used": 0, "available": 0}

    return {
        "target": results["target"], "part": results["part"],
        "speed_grade": results.get("speed_grade"), "seed": seed["seed"],
        "luts": use("TRELLIS_COMB", "ICESTORM_LC"),
        "flip_flops": results["flip_flops"],
        "block_rams": use("DP16KD", "ICESTORM_RAM"),
        "dsps": use("MULT18X18D", "ICESTORM_DSP"),
        "fmax_mhz": results["fmax_mhz"]["median"],
        "target_mhz": target_mhz,
        "timing_met": bool(seed["timing_met"]),
        "cached": bool(results.get("cached", False)),
        "tools": results["tools"],
    }


def _worker(conn, folder, target, freq, out_dir, cache_dir):
    """The child: lead a process group, run the flow, send notes and one final message."""
    os.setsid()
    try:
        from synth.devices import get_device
        from synth.flow import FlowError, run_flow

        from .compression import eie_design, load_compiled

        compiled = load_compiled(folder)
        device = get_device(target)
        design = eie_design(compiled.layers, compiled.design.config,
                            family=device.primitive_family)
        try:
            results = run_flow(design, device=device,
                               out_dir=out_dir, seeds=(1,), freq=freq, cache_dir=cache_dir,
                               progress=lambda text: conn.send(("note", text)))
        except FlowError as exc:
            conn.send(("error", str(exc)))
        else:
            conn.send(("done", summarize(results, target_mhz=freq)))
    except Exception as exc:  # noqa: BLE001 - any crash is reported to the parent as text
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class SynthJob:
    """Synthesis of the compiled folder ``folder`` for ``target`` at ``freq`` MHz, started now.

    ``note`` is called (from a thread of this process) with each progress line.
    :meth:`result` waits for the outcome; :meth:`cancel` ends the run.
    """

    def __init__(self, folder, *, target, freq, out_dir, cache_dir, note):
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_worker, args=(send, str(folder), target, freq, str(out_dir),
                                  None if cache_dir is None else str(cache_dir)),
            name="zeroskip-synth", daemon=True)
        self._process.start()
        send.close()
        self._outcome = ("error", "synthesis ended without a result")
        self._reader = threading.Thread(target=self._read, args=(receive, note), daemon=True)
        self._reader.start()

    def _read(self, receive, note):
        with receive:
            while True:
                try:
                    kind, payload = receive.recv()
                except (EOFError, OSError):
                    return
                if kind == "note":
                    note(payload)
                else:
                    self._outcome = (kind, payload)

    def result(self):
        """Wait for the run: its summary (:func:`summarize`), or ``{"error": message}``."""
        self._reader.join()
        self._process.join()
        kind, payload = self._outcome
        return payload if kind == "done" else {"error": payload}

    def cancel(self):
        """End the run and every tool it started; return at once if it has finished."""
        if self._process.is_alive():
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                # Not yet the leader of its group, so it has started no tool either.
                self._process.kill()
        self._process.join()
        self._reader.join()
