"""cocotb measurement run of the EIE array: jobs in, outputs, cycles and counters out.

Used by the flow (``zeroskip demo``/``simulate``, through :func:`zeroskip.rtl.run_eie`)
and the RTL benchmark. The jobs come from the ``.npz`` the caller wrote
(:func:`sim.eie_stimuli.save_jobs`): when it says ``load``, each job's layers
are written through the host port first, otherwise they are baked into the
design. Every vector's inputs go in, the chain runs, and the outputs and the
PE counters come back, without stalls. The measurements go to the output
``.npz``; comparing them with the golden and cycle models is the caller's job
(:func:`zeroskip.rtl.check_eie`), so a difference is reported, not lost.
"""

import time

import cocotb
import numpy as np

from hw.eie.program import EieProgram
from sim.eie_host import EieHost
from sim.eie_stimuli import load_jobs
from sim.streams import TB, load_data, write_out


@cocotb.test()
async def run_jobs(dut):
    """Every vector of every job through the array; measurements to the output file."""
    tb = TB(dut, engine="eie")
    host = EieHost(tb)
    await tb.start()
    jobs, load = load_jobs(load_data())
    out = {"outputs": [], "cycles": [], "busy": [], "stall": [], "job": [],
           "load_seconds": [], "run_seconds": []}
    for k, job in enumerate(jobs):
        prog = EieProgram(job.layers, config=tb.config)
        started = time.perf_counter()
        if load:
            host.load(prog)
            await host.cmd.wait_empty()
        out["load_seconds"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for acts in job.acts:
            got = await host.run(prog, acts)
            out["outputs"].append(got.outputs)
            out["cycles"].append(got.cycles)
            out["busy"].append(got.busy)
            out["stall"].append(got.stall)
            out["job"].append(k)
        out["run_seconds"].append(time.perf_counter() - started)
        cocotb.log.info("job %s: %d vector(s), %d cycles", job.name, len(job.acts),
                        sum(out["cycles"][-len(job.acts):]))
    # Jobs may differ in their number of outputs: rows are padded with zeros
    # to the widest, and ``n_out`` says how many of each row are real.
    width = max(len(o) for o in out["outputs"])
    n_out = np.array([len(o) for o in out["outputs"]])
    out["outputs"] = [np.pad(o, (0, width - len(o))) for o in out["outputs"]]
    write_out(n_out=n_out, **{key: np.array(value) for key, value in out.items()})
