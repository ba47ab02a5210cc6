"""cocotb module of the demo: a batch of images through an EIE array with baked-in weights.

The array is built with the demo's :class:`~hw.eie.program.EieProgram` baked
into its memories, so only the input activations go through the host port.
For every image this writes the inputs, runs the whole chain on chip, reads the
last layer's outputs and the run's cycle count, and saves them to
``$DEMO_OUT`` (``.npz``). ``$DEMO_IN`` (``.npz``) holds ``acts``, one row of
input activations per image. Checking against the golden model is done by the
caller, which has the model in hand.
"""

import json
import os
import random

import cocotb
import numpy as np

from hw.eie.program import Op
from sim.tb_eie import TB, signed16
from sw_model.config import EieConfig


@cocotb.test()
async def run_images(dut):
    """Every image of ``$DEMO_IN``: inputs in, run, outputs and cycles out."""
    config = EieConfig.from_dict(json.loads(os.environ["EIE_CONFIG"]))
    n_out = int(os.environ["DEMO_N_OUT"])
    acts = np.load(os.environ["DEMO_IN"], allow_pickle=False)["acts"]
    n_layers = int(os.environ["DEMO_N_LAYERS"])
    tb = TB(dut, config=config, rng=random.Random(cocotb.RANDOM_SEED), idle_prob=0.0,
            stall_prob=0.0)
    await tb.reset()
    mask = (1 << config.act_bits) - 1
    outputs = np.zeros((acts.shape[0], n_out), dtype=np.int64)
    cycles = np.zeros(acts.shape[0], dtype=np.int64)
    for image, x in enumerate(acts):
        for j, a in enumerate(x):
            tb.send(Op.WRITE_ACT, pe=j % config.n_pe, addr=j // config.n_pe, data=int(a) & mask)
        tb.send(Op.RUN, data=n_layers)
        for i in range(n_out):
            tb.send(Op.READ_ACT, pe=i % config.n_pe, addr=i // config.n_pe)
        cycles[image] = await tb.response(Op.RUN)
        for i in range(n_out):
            outputs[image, i] = signed16(await tb.response(Op.READ_ACT))
    np.savez(os.environ["DEMO_OUT"], outputs=outputs, cycles=cycles)
