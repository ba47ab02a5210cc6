"""cocotb measurement for ``sim/bench_sparse_nm.py``: cycles of one vector through a tile.

Loads the side-car's ``bench_layer`` (rebuilt from its seed, pruned N:M for
the sparse tile and the same matrix stored densely for the dense one) through
``wload``, streams one activation vector with no stalls, checks the outputs
bit-exactly against ``sw_model.nm_model`` and writes the measured cycle count
to ``$NM_BENCH_OUT`` as JSON.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np

from .nm_stimulus import random_acts, random_nm_matrix
from .nm_tb import make_rng
from .nm_tile_tb import TileTB


@cocotb.test()
async def bench_one_vector(dut):
    """Cycles from the first activation beat to the last result, with the result checked."""
    rng = make_rng()
    tb = TileTB(dut)
    await tb.start()
    spec = tb.sidecar["bench_layer"]
    mac = tb.config.mac
    w = random_nm_matrix(np.random.default_rng(spec["seed"]), spec["rows"], spec["k"],
                         spec["n"], spec["m"], mac.w_bits)
    await tb.load_layer(w)
    tb.send_vector(random_acts(rng, spec["k"], mac.act_bits))
    await tb.check(timeout_cycles=10 * (tb.beats * tb.blocks + tb.latency))
    start = tb.x.accepted[0]
    end = tb.sink.items[-1][0]
    measured = {"cycles": end - start + 1, "beats": tb.beats, "blocks": tb.blocks,
                "latency": tb.latency}
    cocotb.log.info("bench: %s", measured)
    Path(os.environ["NM_BENCH_OUT"]).write_text(json.dumps(measured) + "\n")
