"""cocotb measurement run of an N:M (or dense) tile: one layer's matrix-vector products.

Used by the flow (:func:`zeroskip.rtl.run_nm_tile`) and the N:M benchmark. The
data ``.npz`` holds ``w``, the layer's integer weights (dense layout, N:M
sparse for a sparse tile), and ``acts``, one input vector per row. The layer is
loaded through the tile's ``wload`` stream, the vectors are sent back to back
without stalls, and every result is checked against
:func:`sw_model.nm_model.nm_matvec` by :meth:`TileTB.check`. The cycles from
the first beat accepted to the last result valid, and the outputs, go to the
output ``.npz``.
"""

import cocotb
import numpy as np

from hw.layouts import unpack

from .streams import load_data, write_out
from .tb_nm_tile import TileTB


@cocotb.test()
async def run_vectors(dut):
    """All vectors of the data through the tile, without stalls."""
    data = load_data()
    tb = TileTB(dut)
    await tb.start()
    await tb.load_layer(data["w"])
    for x in data["acts"]:
        tb.send_vector(x)
    await tb.check(timeout_cycles=len(data["acts"]) * (tb.blocks * tb.beats + tb.latency) + 100)
    first = tb.x.accepted[0]
    last = tb.sink.items[-1][0]
    values = np.array([unpack(tb.result_layout, p)["values"] for _, p in tb.sink.items])
    outputs = values.reshape(len(data["acts"]), -1)[:, :tb.rows]
    write_out(outputs=outputs, cycles=np.array(last - first + 1), beats=np.array(tb.beats),
              blocks=np.array(tb.blocks))
