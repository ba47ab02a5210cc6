"""Testbench infrastructure of every engine: clock, reset, stream drivers and monitors.

:class:`TB` owns the clock, the reset and a cycle counter, and reads the design
it runs on from the side-car (:func:`load_design`): a testbench derives its
typed configuration and timing from there, nothing else. :class:`StreamSource`
and :class:`StreamSink` drive an ``amaranth.lib.stream`` port with seeded idle
and backpressure generators (:func:`never`, :func:`randomly`); each records the
transfers through a :class:`StreamMonitor`.

Drivers change their inputs at the falling clock edge and sample handshakes in
the read-only phase just before the next rising edge, so a transfer recorded
for cycle ``c`` happened at the rising edge that ends cycle ``c``. ``cycle``
counts rising edges since the clock started.
"""

import itertools
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from hw.generate import load_sidecar

from .runner import ENV_CYCLE_LIMIT, ENV_DATA, ENV_MUTANT, ENV_OUT, ENV_SIDECAR

__all__ = [
    "TB", "StreamMonitor", "StreamSource", "StreamSink",
    "load_design", "load_data", "write_out", "make_rng", "never", "randomly",
]


def load_design():
    """The :class:`~hw.generate.DesignInfo` of the design under test (its side-car)."""
    return load_sidecar(os.environ[ENV_SIDECAR])


def load_data():
    """The ``.npz`` of layers and vectors the caller wrote for this run."""
    return np.load(os.environ[ENV_DATA], allow_pickle=False)


def write_out(**arrays):
    """Write the run's measurements to the ``.npz`` the caller reads back."""
    np.savez(os.environ[ENV_OUT], **arrays)


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


class StreamMonitor:
    """Records every transfer of a stream ``<prefix>__{valid,ready,payload}``.

    ``items`` holds ``(cycle, payload)`` per transfer, in order. Passive: it
    drives nothing, so it can watch any stream, driven by the design or by a
    :class:`StreamSource` / :class:`StreamSink` (which each own one).
    """

    def __init__(self, tb, prefix):
        self.tb = tb
        self.valid = getattr(tb.dut, f"{prefix}__valid")
        self.ready = getattr(tb.dut, f"{prefix}__ready")
        self.payload = getattr(tb.dut, f"{prefix}__payload")
        self.items = []
        #: Cycles in which ``valid`` was high and ``ready`` low.
        self.stalls = 0

    async def run(self):
        # Inputs change at falling edges; what holds in the read-only phase
        # after one is what the next rising edge samples.
        while True:
            await FallingEdge(self.tb.clk)
            await ReadOnly()
            if self.valid.value == 1:
                if self.ready.value == 1:
                    self.items.append((self.tb.cycle, int(self.payload.value)))
                else:
                    self.stalls += 1

    @property
    def cycles(self):
        """The cycle of every transfer."""
        return [cycle for cycle, _ in self.items]

    @property
    def payloads(self):
        """The payload of every transfer, as integers."""
        return [payload for _, payload in self.items]

    async def wait_for(self, count, *, timeout_cycles):
        """Wait until ``count`` transfers were seen; fail after ``timeout_cycles``."""
        for _ in range(timeout_cycles):
            if len(self.items) >= count:
                return
            await RisingEdge(self.tb.clk)
        raise AssertionError(
            f"timed out after {timeout_cycles} cycles with {len(self.items)} of {count} "
            f"transfers")


class StreamSource:
    """Drives an ``amaranth.lib.stream`` input ``<prefix>__{valid,ready,payload}``.

    ``idle`` yields ``True`` for cycles in which the source holds ``valid`` low
    although it has data. ``monitor`` records every transfer.
    """

    def __init__(self, tb, prefix, *, idle=None):
        self.tb = tb
        self.monitor = StreamMonitor(tb, prefix)
        self.valid = self.monitor.valid
        self.payload = self.monitor.payload
        self.idle = idle or never()
        self.queue = deque()
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

    @property
    def accepted(self):
        """The cycle of every transfer."""
        return self.monitor.cycles

    async def wait_empty(self):
        """Wait until every queued word has been transferred."""
        while self.queue:
            await FallingEdge(self.tb.clk)

    async def run(self):
        cocotb.start_soon(self.monitor.run())
        while True:
            await FallingEdge(self.tb.clk)
            driving = bool(self.queue) and not next(self.idle)
            self.valid.value = int(driving)
            if driving:
                self.payload.value = self.queue[0]
            await ReadOnly()
            if driving and self.monitor.ready.value == 1:
                self.queue.popleft()


class StreamSink:
    """Accepts an ``amaranth.lib.stream`` output; ``backpressure`` yields ``True`` to stall.

    ``monitor`` (and its ``items``: ``(cycle, payload)`` per transfer) records
    what arrived.
    """

    def __init__(self, tb, prefix, *, backpressure=None):
        self.tb = tb
        self.monitor = StreamMonitor(tb, prefix)
        self.ready = self.monitor.ready
        self.backpressure = backpressure or never()
        self.ready.value = 0

    @property
    def items(self):
        """``(cycle, payload)`` of every transfer, in order."""
        return self.monitor.items

    async def wait_for(self, count, *, timeout_cycles):
        """Wait until ``count`` items have arrived; fail after ``timeout_cycles``."""
        await self.monitor.wait_for(count, timeout_cycles=timeout_cycles)

    async def run(self):
        cocotb.start_soon(self.monitor.run())
        while True:
            await FallingEdge(self.tb.clk)
            self.ready.value = int(not next(self.backpressure))


class TB:
    """Owns the clock, the reset and the cycle counter of one design.

    ``design`` is the :class:`~hw.generate.DesignInfo` read from the side-car;
    ``config`` and ``timing`` are its typed configuration and timing.
    ``engine`` names the engine the testbench expects (a mismatch is an error).
    """

    def __init__(self, dut, *, engine):
        self.dut = dut
        self.clk = dut.clk
        self.cycle = 0
        self.design = load_design()
        if self.design.engine != engine:
            raise ValueError(f"this testbench runs {engine} designs, not {self.design.engine} "
                             f"({self.design.name})")
        self.config = self.design.config
        self.timing = self.design.timing
        #: Called with no arguments each time the reset is asserted (coverage).
        self.reset_observers = []
        limit = os.environ.get(ENV_CYCLE_LIMIT)
        #: A test that runs more cycles fails (``None``: no limit).
        self.cycle_limit = int(limit) if limit else None
        mutant = os.environ.get(ENV_MUTANT)
        if mutant is not None:
            # A netlist of sim.mutation: select one mutant (0: none).
            dut.mutant_select.value = int(mutant)
        dut.rst.value = 0

    async def start(self):
        """Start the 100 MHz clock and the cycle counter, then reset for 2 cycles.

        This power-on reset is not shown to ``reset_observers``: before it the
        design's registers hold their initial values, which a netlist need
        not keep (``sim.mutation``'s faults on a register's output drop them).
        """
        cocotb.start_soon(Clock(self.clk, 10, unit="ns").start())
        cocotb.start_soon(self._count())
        await self.reset(2, observed=False)

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            if self.cycle_limit is not None and self.cycle > self.cycle_limit:
                raise RuntimeError(f"the test ran past its limit of {self.cycle_limit} "
                                   f"cycles (${ENV_CYCLE_LIMIT})")

    async def reset(self, cycles, *, now=False, observed=True):
        """Hold the synchronous reset for ``cycles`` rising edges (driven at falling edges).

        ``now``: the caller is at a falling edge already, and the reset is
        asserted at once (so it meets the state the caller saw there).
        ``observed``: call ``reset_observers`` first (they see the state the
        reset meets).
        """
        if not now:
            await FallingEdge(self.clk)
        if observed:
            for observer in self.reset_observers:
                observer()
        self.dut.rst.value = 1
        await ClockCycles(self.clk, cycles)
        await FallingEdge(self.clk)
        self.dut.rst.value = 0

    def start_driver(self, driver):
        """Run a source or sink in the background."""
        cocotb.start_soon(driver.run())
        return driver
