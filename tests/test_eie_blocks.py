"""Amaranth-simulator unit tests of the EIE blocks, and a baked-program array run."""

import collections
import random

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from hw.eie.array import EieArray
from hw.eie.blocks import ActQueue, ArithUnit, Lnzd, PtrRead, WeightDecoder, item_layout
from hw.eie.program import EieProgram
from sw_model.config import EieConfig
from sw_model.eie_format import encode
from sw_model.fixed import wrap
from sw_model.layers import random_layer

# Constructors that raise, and objects built only for their properties, are
# never elaborated; Amaranth warns about that at garbage collection.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

CFG = EieConfig(n_pe=4, queue_depth=3, entries_per_word=4, act_depth=16, ptr_depth=64,
                matrix_depth=64, max_layers=2)


def run(dut, testbench, *, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_act_queue_matches_fifo(depth):
    dut = ActQueue(depth=depth, shape=item_layout(CFG))
    rng = random.Random(depth)
    ref = collections.deque()

    async def tb(ctx):
        for _ in range(300):
            pop = rng.random() < 0.5 and len(ref) > 0
            push = rng.random() < 0.55 and (len(ref) < depth or pop)
            item = {"act": rng.randrange(-1000, 1000), "start": rng.randrange(64),
                    "end": rng.randrange(64)}
            ctx.set(dut.w.valid, push)
            ctx.set(dut.w.payload, item)
            ctx.set(dut.r.ready, pop)
            assert ctx.get(dut.level) == len(ref)
            assert ctx.get(dut.w.ready) == (len(ref) < depth or pop)
            assert ctx.get(dut.r.valid) == (len(ref) > 0)
            if ref:
                head = ctx.get(dut.r.payload)
                assert (head.act, head.start, head.end) == ref[0]
            await ctx.tick()
            if pop:
                ref.popleft()
            if push:
                ref.append((item["act"], item["start"], item["end"]))

    run(dut, tb)


def test_act_queue_rejects_bad_depth():
    with pytest.raises(ValueError, match=r"^Queue depth must be a positive integer, not 0$"):
        ActQueue(depth=0, shape=8)


def test_ptr_read_gives_both_pointers():
    ptr = list(np.cumsum(np.random.default_rng(1).integers(0, 5, size=CFG.ptr_depth)))
    dut = PtrRead(config=CFG, init=(ptr[0::2], ptr[1::2]))
    cols = [0, 1, 2, 7, 8, 30, 61]

    async def tb(ctx):
        assert dut.latency == 1
        ctx.set(dut.item.ready, 1)
        for j in cols:
            ctx.set(dut.bcast.valid, 1)
            ctx.set(dut.bcast.payload, {"act": j + 1, "even_addr": (j + 1) // 2,
                                        "odd_addr": j // 2, "odd": j % 2})
            await ctx.tick()
            ctx.set(dut.bcast.valid, 0)
            item = ctx.get(dut.item.payload)
            assert ctx.get(dut.item.valid) == 1
            assert (item.act, item.start, item.end) == (j + 1, ptr[j], ptr[j + 1])
        await ctx.tick()
        assert ctx.get(dut.item.valid) == 0
        # An item that is not taken stays in stage P, unchanged.
        ctx.set(dut.item.ready, 0)
        ctx.set(dut.bcast.valid, 1)
        ctx.set(dut.bcast.payload, {"act": -5, "even_addr": 2, "odd_addr": 1, "odd": 1})
        await ctx.tick()
        ctx.set(dut.bcast.valid, 0)
        for _ in range(3):
            await ctx.tick()
            item = ctx.get(dut.item.payload)
            assert ctx.get(dut.item.valid) == 1
            assert (item.act, item.start, item.end) == (-5, ptr[3], ptr[4])
        ctx.set(dut.item.ready, 1)
        await ctx.tick()
        assert ctx.get(dut.item.valid) == 0

    run(dut, tb)


def test_weight_decoder_lookup():
    dut = WeightDecoder(config=CFG)
    rng = np.random.default_rng(2)
    books = rng.integers(-32768, 32768, size=(CFG.max_layers, 16))
    books[:, 0] = 0

    async def tb(ctx):
        for slot in range(CFG.max_layers):
            for v in range(16):
                ctx.set(dut.wr_en, 1)
                ctx.set(dut.wr_addr, slot * 16 + v)
                ctx.set(dut.wr_data, int(books[slot, v]))
                await ctx.tick()
        ctx.set(dut.wr_en, 0)
        for _ in range(40):
            slot, v = int(rng.integers(CFG.max_layers)), int(rng.integers(16))
            ctx.set(dut.en, 1)
            ctx.set(dut.slot, slot)
            ctx.set(dut.v, v)
            for _ in range(dut.latency):
                await ctx.tick()
            assert ctx.get(dut.w) == books[slot, v]

    run(dut, tb)


@pytest.mark.parametrize("pattern", ["same_row", "random"])
def test_arith_unit_bypass(pattern):
    cfg = EieConfig(n_pe=1, act_depth=8, acc_bits=33)
    dut = ArithUnit(config=cfg)
    rng = np.random.default_rng(3)
    n = 60
    if pattern == "same_row":
        # Runs of back-to-back updates of one row, then alternating rows.
        rows = [3] * 20 + [5, 5, 6, 6, 5, 6] * 5 + [0] * 10
    else:
        rows = list(rng.integers(0, 3, size=n))
    acts = rng.choice([-32768, 32767, 1234, -7], size=len(rows))
    ws = rng.choice([-32768, 32767, 99, -3], size=len(rows))
    expect = np.zeros(cfg.act_depth, dtype=np.int64)
    for r, a, w in zip(rows, acts, ws, strict=True):
        expect[r] = wrap(expect[r] + int(a) * int(w), cfg.acc_bits)

    async def tb(ctx):
        for r in range(cfg.act_depth):
            ctx.set(dut.clr_en, 1)
            ctx.set(dut.clr_row, r)
            await ctx.tick()
        ctx.set(dut.clr_en, 0)
        for r, a, w in zip(rows, acts, ws, strict=True):
            ctx.set(dut.valid, 1)
            ctx.set(dut.row, int(r))
            ctx.set(dut.act, int(a))
            ctx.set(dut.w, int(w))
            await ctx.tick()
        ctx.set(dut.valid, 0)
        for _ in range(dut.latency + 1):
            await ctx.tick()
        got = []
        for r in range(cfg.act_depth):
            ctx.set(dut.rq_en, 1)
            ctx.set(dut.rq_row, r)
            await ctx.tick()
            assert ctx.get(dut.rq_valid) == 1
            got.append(ctx.get(dut.rq_data))
        ctx.set(dut.rq_en, 0)
        assert got == expect.tolist()
        # The readout cleared every row.
        await ctx.tick()
        for r in range(cfg.act_depth):
            ctx.set(dut.rq_en, 1)
            ctx.set(dut.rq_row, r)
            await ctx.tick()
            assert ctx.get(dut.rq_data) == 0

    run(dut, tb)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 16, 64])
def test_lnzd_finds_leading_nonzero(n):
    dut = Lnzd(n=n, value_shape=signed(16))
    rng = np.random.default_rng(n)

    async def tb(ctx):
        for trial in range(60):
            density = [0.0, 0.05, 0.5, 1.0][trial % 4]
            mask = (rng.random(n) < density).astype(int)
            values = rng.integers(-32768, 32768, size=n)
            ctx.set(dut.mask, int(sum(int(b) << i for i, b in enumerate(mask))))
            ctx.set(dut.values, [int(v) for v in values])
            await ctx.delay(1e-9)
            lead = np.flatnonzero(mask)
            assert ctx.get(dut.valid) == (lead.size > 0)
            if lead.size:
                assert ctx.get(dut.index) == lead[0]
                assert ctx.get(dut.value) == values[lead[0]]

    run(dut, tb, clock=False)


def test_lnzd_levels():
    assert Lnzd(n=64, value_shape=8).levels == 3
    assert Lnzd(n=5, value_shape=8).levels == 2
    assert Lnzd(n=1, value_shape=8).levels == 0


def test_array_parameter_errors():
    with pytest.raises(TypeError, match=r"^config must be an EieConfig, not 'x'$"):
        EieArray(config="x")
    idx, cb, _ = random_layer(10, 6, 0.5, 1.0, seed=1)
    layer = encode(idx, cb, config=EieConfig(n_pe=4, entries_per_word=4))
    prog = EieProgram([(layer, False)], config=CFG)
    other = EieConfig(n_pe=4, queue_depth=1, entries_per_word=4, act_depth=16,
                      ptr_depth=64, matrix_depth=64, max_layers=2)
    with pytest.raises(ValueError, match=r"^program was laid out for EieConfig\(n_pe=4, "
                       r"queue_depth=3.*not for EieConfig\(n_pe=4, queue_depth=1"):
        EieArray(config=other, program=prog)
    with pytest.raises(TypeError, match=r"^program must be an EieProgram or None, not 3$"):
        EieArray(config=CFG, program=3)
    with pytest.raises(TypeError, match=r"^layers_relus\[0\] must be an \(EieLayer, bool\) "):
        EieProgram([layer], config=CFG)


def test_program_too_big():
    idx, cb, _ = random_layer(60, 60, 1.0, 1.0, seed=2)
    layer = encode(idx, cb, config=EieConfig(n_pe=4, entries_per_word=4))
    with pytest.raises(ValueError, match=r"more than matrix_depth = 64"):
        EieProgram([(layer, False)], config=CFG)


def test_named_configs_generate_deterministically(tmp_path):
    from hw.eie.configs import CONFIGS, config_for
    from hw.generate import generate, load_sidecar

    assert sorted(CONFIGS) == ["eie-16pe", "eie-1pe", "eie-4pe", "eie-64pe", "eie-8pe"]
    assert config_for("eie-64pe").n_pe == 64
    first, side = generate("eie-1pe", tmp_path / "a")
    second, side2 = generate("eie-1pe", tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert side.read_bytes() == side2.read_bytes()
    info = load_sidecar(side)
    assert info.config == config_for("eie-1pe")
    assert info.timing == EieArray(config=config_for("eie-1pe")).timing
    assert info.verilog == first and info.toplevel == "eie_1pe"
    with pytest.raises(ValueError, match=r"^Unknown EIE configuration 'eie-3pe'; known: "):
        config_for("eie-3pe")
