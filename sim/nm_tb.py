"""Testbench infrastructure for the N:M benches: clock, reset, stream drivers, monitors.

Drivers change their inputs at the falling clock edge and sample handshakes in
the read-only phase just before the next rising edge, so a transfer recorded
for cycle ``c`` happened at the rising edge that ends cycle ``c``. ``cycle``
counts rising edges since the clock started.
"""

import itertools
import json
import os
from collections import deque
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

__all__ = ["TB", "StreamSource", "StreamSink", "load_sidecar", "make_rng", "never", "randomly"]


def load_sidecar():
    """The ``config`` entry of the design's JSON side-car (path in ``$NM_SIDECAR``).

    It holds ``kind``, ``params`` (the configuration dict) and ``latency``.
    """
    return json.loads(Path(os.environ["NM_SIDECAR"]).read_text())["config"]


def make_rng():
    """A NumPy generator seeded from ``cocotb.RANDOM_SEED`` (logged with the replay seed).

    cocotb derives ``RANDOM_SEED`` for each test from the run's seed and the
    test's name, so every test has its own stream and the whole run replays
    from the run's seed alone.
    """
    run_seed = os.environ.get("COCOTB_RANDOM_SEED", "?")
    cocotb.log.info("NumPy seeded from cocotb.RANDOM_SEED=%d; replay the run with SEED=%s",
                    cocotb.RANDOM_SEED, run_seed)
    return np.random.default_rng(cocotb.RANDOM_SEED)


def never():
    """An idle/backpressure generator that never stalls."""
    return itertools.repeat(False)


def randomly(rng, probability):
    """An idle/backpressure generator that stalls with ``probability`` each cycle."""
    while True:
        yield bool(rng.random() < probability)


class StreamSource:
    """Drives an ``amaranth.lib.stream`` input ``<prefix>__{valid,ready,payload}``.

    ``idle`` yields ``True`` for cycles in which the source holds ``valid`` low
    although it has data. ``accepted`` lists the cycle of every transfer.
    """

    def __init__(self, tb, prefix, *, idle=None):
        self.tb = tb
        self.valid = getattr(tb.dut, f"{prefix}__valid")
        self.ready = getattr(tb.dut, f"{prefix}__ready")
        self.payload = getattr(tb.dut, f"{prefix}__payload")
        self.idle = idle or never()
        self.queue = deque()
        self.accepted = []
        self.valid.value = 0

    def send(self, words):
        """Queue packed payload words."""
        self.queue.extend(int(w) for w in words)

    def clear(self):
        """Drop everything not yet sent (used around a reset)."""
        self.queue.clear()

    @property
    def empty(self):
        """True when every queued word has been transferred."""
        return not self.queue

    async def run(self):
        while True:
            await FallingEdge(self.tb.clk)
            driving = bool(self.queue) and not next(self.idle)
            self.valid.value = int(driving)
            if driving:
                self.payload.value = self.queue[0]
            await ReadOnly()
            if driving and self.ready.value == 1:
                self.queue.popleft()
                self.accepted.append(self.tb.cycle)


class StreamSink:
    """Accepts an ``amaranth.lib.stream`` output; ``backpressure`` yields ``True`` to stall.

    ``items`` holds ``(cycle, payload)`` for every transfer, in order.
    """

    def __init__(self, tb, prefix, *, backpressure=None):
        self.tb = tb
        self.valid = getattr(tb.dut, f"{prefix}__valid")
        self.ready = getattr(tb.dut, f"{prefix}__ready")
        self.payload = getattr(tb.dut, f"{prefix}__payload")
        self.backpressure = backpressure or never()
        self.items = []
        self.ready.value = 0

    async def run(self):
        while True:
            await FallingEdge(self.tb.clk)
            ready = not next(self.backpressure)
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and self.valid.value == 1:
                self.items.append((self.tb.cycle, int(self.payload.value)))

    async def wait_for(self, count, *, timeout_cycles):
        """Wait until ``count`` items have arrived; fail after ``timeout_cycles``."""
        for _ in range(timeout_cycles):
            if len(self.items) >= count:
                return
            await RisingEdge(self.tb.clk)
        raise AssertionError(
            f"timed out after {timeout_cycles} cycles with {len(self.items)} of {count} items")


class TB:
    """Owns the clock, the reset and the cycle counter of one N:M design."""

    def __init__(self, dut):
        self.dut = dut
        self.clk = dut.clk
        self.cycle = 0
        self.sidecar = load_sidecar()
        dut.rst.value = 0

    async def start(self):
        """Start the 100 MHz clock and the cycle counter, then reset for 2 cycles."""
        cocotb.start_soon(Clock(self.clk, 10, unit="ns").start())
        cocotb.start_soon(self._count())
        await self.reset(2)

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    async def reset(self, cycles):
        """Hold the synchronous reset for ``cycles`` rising edges (driven at falling edges)."""
        await FallingEdge(self.clk)
        self.dut.rst.value = 1
        await ClockCycles(self.clk, cycles)
        await FallingEdge(self.clk)
        self.dut.rst.value = 0

    def start_driver(self, driver):
        """Run a source or sink in the background."""
        cocotb.start_soon(driver.run())
        return driver
