"""Amaranth-simulator unit tests of the EIE blocks, and a baked-program array run."""

import collections
import random

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hw.eie.array import EieArray, _at_most_one, _below, _lowest, _without_lowest
from hw.eie.blocks import (
    Accumulators,
    ActQueue,
    PtrRead,
    WeightDecoder,
    item_layout,
)
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


@pytest.mark.parametrize("depth", [1, 2, 5, 16])
def test_act_queue_matches_fifo(depth):
    dut = ActQueue(depth=depth, shape=item_layout(CFG))
    rng = random.Random(depth)
    ref = collections.deque()

    async def tb(ctx):
        for _ in range(300):
            pop = rng.random() < 0.5 and len(ref) > 0
            push = rng.random() < 0.55 and (len(ref) < depth or pop)
            item = {"act": rng.randrange(-1000, 1000), "start": rng.randrange(64),
                    "more": rng.randrange(2), "tail": rng.randrange(64)}
            ctx.set(dut.w.valid, push)
            ctx.set(dut.w.payload, item)
            ctx.set(dut.r.ready, pop)
            assert ctx.get(dut.level) == len(ref)
            assert ctx.get(dut.w.ready) == (len(ref) < depth or pop)
            assert ctx.get(dut.r.valid) == (len(ref) > 0)
            if ref:
                head = ctx.get(dut.r.payload)
                assert (head.act, head.start, head.more, head.tail) == ref[0]
            await ctx.tick()
            if pop:
                ref.popleft()
            if push:
                ref.append((item["act"], item["start"], item["more"], item["tail"]))

    run(dut, tb)


def test_act_queue_rejects_bad_depth():
    with pytest.raises(ValueError, match=r"^Queue depth must be a positive integer, not 0$"):
        ActQueue(depth=0, shape=8)


def test_ptr_read_gives_both_pointers():
    ptr = [int(x) for x in np.cumsum(np.random.default_rng(1).integers(0, 5, size=CFG.ptr_depth))]
    bits = CFG.ptr_bits
    words = [lo | (hi << bits) for lo, hi in zip(ptr, ptr[1:] + [0], strict=True)]
    dut = PtrRead(config=CFG, init=words)
    cols = [0, 1, 2, 7, 8, 30, 62]

    async def tb(ctx):
        assert dut.latency == 2
        seen = []
        for k in range(len(cols) + dut.latency):
            if k < len(cols):
                j = cols[k]
                ctx.set(dut.bcast.valid, 1)
                ctx.set(dut.bcast.payload, {"act": j + 1, "addr": j})
            else:
                ctx.set(dut.bcast.valid, 0)
            await ctx.tick()
            if ctx.get(dut.item_valid):
                item = ctx.get(dut.item)
                seen.append((item.act, item.start, item.more, item.tail))
        # Back to back, every broadcast gives its item latency cycles later:
        # the range [start, end) as start, more (end - start > 1) and tail
        # (end - start - 2, modulo 2**ptr_bits).
        assert seen == [(j + 1, ptr[j], int(ptr[j + 1] - ptr[j] > 1),
                         (ptr[j + 1] - ptr[j] - 2) % (1 << bits)) for j in cols]
        assert ctx.get(dut.item_valid) == 0 and ctx.get(dut.busy) == 0
        # A host write replaces a column's pair.
        ctx.set(dut.wr_en, 1)
        ctx.set(dut.wr_addr, 5)
        ctx.set(dut.wr_data, 17 | (200 << bits))
        await ctx.tick()
        ctx.set(dut.wr_en, 0)
        # The write lands a cycle later.
        await ctx.tick()
        ctx.set(dut.bcast.valid, 1)
        ctx.set(dut.bcast.payload, {"act": 3, "addr": 5})
        await ctx.tick()
        ctx.set(dut.bcast.valid, 0)
        await ctx.tick()
        item = ctx.get(dut.item)
        assert (item.start, item.more, item.tail, ctx.get(dut.item_empty)) == (17, 1, 181, 0)

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
        assert dut.latency == 0
        for _ in range(40):
            slot, v = int(rng.integers(CFG.max_layers)), int(rng.integers(16))
            ctx.set(dut.slot, slot)
            ctx.set(dut.v, v)
            await ctx.delay(1e-9)
            assert ctx.get(dut.w) == books[slot, v]
            await ctx.tick()

    run(dut, tb)


@pytest.mark.parametrize("act_depth", [8, 64])
@pytest.mark.parametrize("pattern", ["same_row", "random", "gaps"])
def test_accumulators_bypass_and_valid_rows(pattern, act_depth):
    # act_depth 64: the valid flags are looked up in two stages (blocks of 8).
    cfg = EieConfig(n_pe=1, act_depth=act_depth, acc_bits=33)
    spread = 1 if act_depth == 8 else 9
    dut = Accumulators(config=cfg)
    rng = np.random.default_rng(3)
    if pattern == "same_row":
        # Runs of back-to-back updates of one row, then alternating rows.
        rows = [3] * 20 + [5, 5, 6, 6, 5, 6, 5, 7, 5] * 5 + [0] * 10
    elif pattern == "random":
        rows = [int(r) for r in rng.integers(0, 3, size=60)]
    else:
        rows = [int(r) if rng.random() < 0.6 else None for r in rng.integers(0, 4, size=80)]
    rows = [r * spread if r is not None else None for r in rows]
    prods = [int(x) for x in rng.choice([-(1 << 31), (1 << 31) - 1, 1234, -7], size=len(rows))]
    expect = {}
    for r, x in zip(rows, prods, strict=True):
        if r is not None:
            expect[r] = wrap(expect.get(r, 0) + x, cfg.acc_bits)

    async def tb(ctx):
        # Stale data in bank 1 (a host write to bank 0 cannot reach it; run a
        # layer into it first), then a clear: every row must start from 0.
        ctx.set(dut.dst, 1)
        ctx.set(dut.valid, 1)
        for r in range(cfg.act_depth):
            ctx.set(dut.row, r)
            ctx.set(dut.prod, 999)
            await ctx.tick()
        ctx.set(dut.valid, 0)
        for _ in range(3):
            await ctx.tick()
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        pending = None
        for r, x in zip(rows + [None, None], prods + [0, 0], strict=True):
            # The product follows its row by one cycle.
            ctx.set(dut.valid, r is not None)
            ctx.set(dut.row, r or 0)
            ctx.set(dut.prod, pending if pending is not None else 0)
            pending = x if r is not None else None
            await ctx.tick()
        ctx.set(dut.valid, 0)
        for _ in range(dut.latency + 1):
            await ctx.tick()
        for r in range(cfg.act_depth):
            ctx.set(dut.rd_en, 1)
            ctx.set(dut.rd_bank, 1)
            ctx.set(dut.rd_addr, r)
            for _ in range(dut.read_latency):
                await ctx.tick()
                ctx.set(dut.rd_en, 0)
            assert ctx.get(dut.rd_data) == expect.get(r, 0), r

    run(dut, tb)


def test_accumulators_host_writes_bank_0():
    cfg = EieConfig(n_pe=1, act_depth=8, acc_bits=40)
    dut = Accumulators(config=cfg)

    async def tb(ctx):
        ctx.set(dut.dst, 1)
        for r, x in [(0, -5 << 12), (6, 77 << 12)]:
            ctx.set(dut.wr_en, 1)
            ctx.set(dut.wr_addr, r)
            ctx.set(dut.wr_data, x)
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        for r, x in [(0, -5 << 12), (6, 77 << 12), (3, 0)]:
            ctx.set(dut.rd_en, 1)
            ctx.set(dut.rd_bank, 0)
            ctx.set(dut.rd_addr, r)
            await ctx.tick()
            ctx.set(dut.rd_en, 0)
            await ctx.tick()
            assert ctx.get(dut.rd_data) == x

    run(dut, tb)


@pytest.mark.parametrize("n", [1, 3, 8, 17])
def test_lowest_bit_helpers(n):
    bits = Signal(n)
    low, rest, single = Signal(n), Signal(n), Signal()
    m = Module()
    m.d.comb += [low.eq(_lowest(bits)), rest.eq(_without_lowest(bits)),
                 single.eq(_at_most_one(bits))]
    rng = np.random.default_rng(n)
    # Random values, and every value with at most two bits set.
    values = [int(rng.integers(0, 1 << n)) for _ in range(50)]
    values += [(1 << i) | (1 << j) for i in range(n) for j in range(n)] + [0]

    async def tb(ctx):
        for value in values:
            ctx.set(bits, value)
            await ctx.delay(1e-9)
            lowest = value & -value
            assert ctx.get(low) == lowest and ctx.get(rest) == value ^ lowest
            assert ctx.get(single) == (bin(value).count("1") <= 1)

    run(m, tb, clock=False)


@pytest.mark.parametrize(("width", "limit"), [(4, 3), (4, 16), (8, 1), (8, 5), (8, 8), (64, 65),
                                              (64, 512), (64, 513)])
def test_below_splits_wide_comparisons(width, limit):
    value = Signal(width)
    below = Signal()
    m = Module()
    m.d.comb += below.eq(_below(value, limit))
    rng = np.random.default_rng(width * 1000 + limit)
    edges = [v for v in (0, 1, limit - 1, limit, limit + 1, (1 << width) - 1)
             if 0 <= v < 1 << width]
    edges += [limit | (1 << b) for b in range(width) if (limit | (1 << b)) < 1 << width]
    values = edges + [int(rng.integers(0, 1 << min(width, 62))) for _ in range(50)]

    async def tb(ctx):
        for v in values:
            ctx.set(value, v)
            await ctx.delay(1e-9)
            assert ctx.get(below) == (v < limit), (v, limit)

    run(m, tb, clock=False)


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

    assert sorted(CONFIGS) == ["eie-16pe", "eie-1pe", "eie-2pe", "eie-2pe-up5k", "eie-32pe",
                               "eie-4pe", "eie-64pe", "eie-8pe"]
    assert config_for("eie-64pe").n_pe == 64
    # Half-depth matrix memories from 32 PEs on (two DP16KD instead of four).
    assert [config_for(f"eie-{n}pe").matrix_depth for n in (16, 32)] == [1024, 512]
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


@pytest.mark.parametrize("init", [None, [3 | (5 << CFG.ptr_bits)]], ids=["no_init", "short_init"])
def test_ptr_read_unwritten_words_are_empty_columns(init):
    """A word neither baked nor written is the pair (0, 0), an empty column; word 0 of
    the short init (3, 5) is not."""
    dut = PtrRead(config=CFG, init=init)

    async def tb(ctx):
        got = []
        for addr in (0, CFG.ptr_depth - 1):
            ctx.set(dut.bcast.valid, 1)
            ctx.set(dut.bcast.payload, {"act": 1, "addr": addr})
            await ctx.tick()
            ctx.set(dut.bcast.valid, 0)
            await ctx.tick()
            assert ctx.get(dut.item_valid) == 1
            got.append((ctx.get(dut.item.start), ctx.get(dut.item.more),
                        ctx.get(dut.item.tail), ctx.get(dut.item_empty)))
            await ctx.tick()
        # (start, more, tail, empty): (0, 0) is empty; (3, 5) has 2 entries.
        empty = (0, 0, (1 << CFG.ptr_bits) - 2, 1)
        first = empty if init is None else (3, 1, 0, 0)
        assert got == [first, empty]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
