"""The EIE regression's stimulus sets and host driver do what their docstrings say."""

import numpy as np
import pytest

from hw.eie.array import cmd_layout
from hw.eie.program import Op
from hw.layouts import unpack
from sim.eie_host import USED_FIELDS, command_payload
from sim.eie_stimuli import build_jobs, small_config
from sw_model.eie_model import eie_layer_sums


@pytest.mark.parametrize("n_pe", [1, 2, 3, 16])
def test_steps_put_every_sum_next_to_an_output_step(n_pe):
    config = small_config(n_pe, 2)
    step = 1 << config.w_frac_bits
    half = step >> 1
    jobs = build_jobs("steps", config, np.random.default_rng(5))
    assert {job.name for job in jobs} == {f"steps_{k}_{s}" for k in (1, 2, 3)
                                          for s in ("pos", "neg")}
    for job in jobs:
        (layer, relu), = job.layers
        assert not relu
        # Every row has every weight nonzero: updates meet the 1, 2 or 3 before.
        assert np.all(np.diff(layer.ptr, axis=1) > 0)
        places = set()
        for acts in job.acts:
            sums = eie_layer_sums(layer, acts, act_frac_bits=config.act_frac_bits)
            # One unit away from the next output: from below or at a step.
            residue = (sums + half) % step
            assert len(set(residue.tolist())) == 1, residue
            places.add(int(residue[0]))
            # Well inside the output range: no saturation hides an error.
            assert np.all(np.abs(sums) < (1 << (config.w_frac_bits + 14)))
        assert places == {0, step - 1}


def test_deep_bias_has_a_bias_in_every_table_entry():
    config = small_config(2, 2)
    job, = build_jobs("deep_bias", config, np.random.default_rng(3))
    assert len(job.layers) == config.max_layers == 4
    assert all(layer.bias for layer, _ in job.layers)


def test_every_opcode_lists_its_used_fields():
    assert set(USED_FIELDS) == set(Op)
    assert USED_FIELDS[Op.READ_ACT] == ("pe", "addr")
    assert USED_FIELDS[Op.RUN] == ("data",)


def test_junk_fills_only_unused_fields_and_refuses_values_there():
    config = small_config(2, 2)
    layout = cmd_layout(config)
    rng = np.random.default_rng(7)
    got = unpack(layout, command_payload(layout, Op.READ_ACT, 1, 5, 0, junk=rng))
    assert (got["op"], got["pe"], got["addr"]) == (Op.READ_ACT, 1, 5)
    assert got["data"] != 0
    # Without junk the unused fields stay as given.
    plain = unpack(layout, command_payload(layout, Op.READ_ACT, 1, 5, 0))
    assert plain["data"] == 0
    with pytest.raises(ValueError, match=r"^READ_ACT does not use its data field, "
                                         r"which holds 3$"):
        command_payload(layout, Op.READ_ACT, 1, 5, 3, junk=rng)
    with pytest.raises(ValueError, match=r"^RUN does not use its pe field, which holds 1$"):
        command_payload(layout, Op.RUN, 1, 0, 2, junk=rng)
