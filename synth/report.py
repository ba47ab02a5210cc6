"""Reading the tools' machine-readable outputs, and writing the flow's results.

Everything here works on JSON the tools write on purpose (nextpnr's
``--report``, yosys's ``write_json`` and ``stat -json``), never on log text;
the only exception is :func:`parse_nextpnr_failure`, because nextpnr writes no
report when placement fails.
"""

import re
import statistics

__all__ = [
    "MemoryPlacement", "DEFAULT_BRAM_MIN_BITS", "classify_memories", "memory_violations",
    "parse_nextpnr_report", "cell_counts", "resource_needs", "parse_nextpnr_failure",
    "fmax_summary", "results_markdown",
]

#: Memories larger than this many bits must be block RAM (or SPRAM). Smaller
#: ones (the EIE codebooks of four layers, 1 kbit; a 4-entry layer table) may
#: be LUT RAM or flip-flops: a 4 kbit iCE40 EBR or an 18 kbit ECP5 DP16KD would
#: be mostly empty, and nextpnr packs them next to the logic that uses them.
#: Memories read only asynchronously (the activation queues) are LUT RAM by
#: design whatever their size.
DEFAULT_BRAM_MIN_BITS = 1024

_BLOCK_KINDS = {
    "SB_RAM40_4K": "block", "DP16KD": "block", "PDPW16KD": "block",
    "SB_SPRAM256KA": "spram", "TRELLIS_DPR16X4": "lutram",
}


class MemoryPlacement(dict):
    """Where one memory of the design ended up after yosys's memory mapping.

    A ``dict`` (so it goes straight to JSON) with keys ``name`` (the flattened
    yosys memory id, e.g. ``pe_0.matrix``), ``width``, ``depth``, ``bits``,
    ``kind`` (``"block"``, ``"spram"``, ``"lutram"`` or ``"logic"``),
    ``async_read`` (every read port is asynchronous: the design asks for LUT
    RAM, which block RAM cannot be) and ``cells`` (``{cell type: count}`` of the
    primitives it became).
    """


def _int_param(value):
    # yosys writes parameters as binary strings (or ints for small ones).
    return value if isinstance(value, int) else int(value, 2)


def _strip(name):
    return name[1:] if name.startswith("\\") else name


def _cells(netlist):
    for module in netlist.get("modules", {}).values():
        yield from module.get("cells", {}).items()


def classify_memories(declared, mapped):
    """Match each memory yosys inferred with the primitives it was mapped to.

    ``declared`` is the ``write_json`` netlist of the ``$mem_v2`` cells taken just
    before ``map_ram`` (every memory the design declares, after flattening);
    ``mapped`` holds the RAM primitives and the remaining ``$mem_v2`` cells just
    after ``map_ram``. yosys's ``memory_libmap`` names the primitives of memory
    ``M`` as ``M.<i>.<j>[...]``; a memory still present as ``$mem_v2`` after that
    step is turned into flip-flops and LUTs by ``memory_map``.
    Returns a list of :class:`MemoryPlacement`, sorted by name.
    """
    mapped_cells = list(_cells(mapped))
    left_over = {_strip(cell["parameters"].get("MEMID", name))
                 for name, cell in mapped_cells if cell["type"] == "$mem_v2"}
    placements = []
    for name, cell in _cells(declared):
        if cell["type"] != "$mem_v2":
            continue
        memid = _strip(cell["parameters"].get("MEMID", name))
        width = _int_param(cell["parameters"]["WIDTH"])
        depth = _int_param(cell["parameters"]["SIZE"])
        clocked = cell["parameters"].get("RD_CLK_ENABLE")
        async_read = clocked is not None and _int_param(clocked) == 0
        pattern = re.compile(re.escape(memid) + r"(\.\d+)+$")
        counts = {}
        for cell_name, mapped_cell in mapped_cells:
            if mapped_cell["type"] in _BLOCK_KINDS and pattern.match(_strip(cell_name)):
                counts[mapped_cell["type"]] = counts.get(mapped_cell["type"], 0) + 1
        if memid in left_over or not counts:
            kind = "logic"
        else:
            kinds = {_BLOCK_KINDS[t] for t in counts}
            # A memory split across block and LUT RAM is only as good as its worst part.
            kind = "lutram" if "lutram" in kinds else ("spram" if "spram" in kinds else "block")
        placements.append(MemoryPlacement(
            name=memid, width=width, depth=depth, bits=width * depth, kind=kind,
            async_read=async_read, cells=dict(sorted(counts.items()))))
    return sorted(placements, key=lambda p: p["name"])


def memory_violations(placements, *, bram_min_bits=DEFAULT_BRAM_MIN_BITS):
    """The placements larger than ``bram_min_bits`` that are not block RAM or SPRAM.

    A memory read only asynchronously is exempt when it became LUT RAM: block
    RAM cannot read asynchronously, so the design chose distributed RAM on purpose
    (small tables such as the EIE codebook).
    """
    if not isinstance(bram_min_bits, int) or bram_min_bits < 0:
        raise ValueError(
            f"bram_min_bits must be a non-negative integer, not {bram_min_bits!r}")
    return [p for p in placements
            if p["bits"] > bram_min_bits and p["kind"] not in ("block", "spram")
            and not (p.get("async_read") and p["kind"] == "lutram")]


def parse_nextpnr_report(report):
    """Summarise a nextpnr ``--report`` JSON object.

    Returns ``{"utilization": {type: {"used", "available"}}, "fmax": {clock:
    {"achieved", "constraint"}}, "critical_path": {...} or None}``; only
    resources with a non-zero ``available`` are kept. The critical path is the
    slowest of ``critical_paths``: its start and end cells, total delay in ns,
    logic levels and the share of routing delay.
    """
    for key in ("utilization", "fmax"):
        if key not in report:
            raise ValueError(f"nextpnr report has no {key!r} section; keys: {sorted(report)}")
    utilization = {
        kind: {"used": int(v["used"]), "available": int(v["available"])}
        for kind, v in sorted(report["utilization"].items()) if v["available"]}
    fmax = {clock: {"achieved": float(v["achieved"]), "constraint": float(v["constraint"])}
            for clock, v in sorted(report["fmax"].items())}
    critical = None
    for path in report.get("critical_paths", []):
        steps = path.get("path", [])
        if not steps:
            continue
        total = sum(step["delay"] for step in steps)
        if critical is not None and total <= critical["delay_ns"]:
            continue
        routing = sum(step["delay"] for step in steps if step["type"] == "routing")
        critical = {
            "from_clock": path.get("from"), "to_clock": path.get("to"),
            "start": f"{steps[0]['from']['cell']}.{steps[0]['from']['port']}",
            "end": f"{steps[-1]['to']['cell']}.{steps[-1]['to']['port']}",
            "delay_ns": round(total, 3),
            "routing_ns": round(routing, 3),
            "logic_levels": sum(1 for step in steps if step["type"] == "logic"),
        }
    return {"utilization": utilization, "fmax": fmax, "critical_path": critical}


def cell_counts(stat):
    """``{cell type: count}`` of the top design from yosys's ``stat -json``."""
    design = stat.get("design")
    if design is None:
        modules = list(stat.get("modules", {}).values())
        if len(modules) != 1:
            raise ValueError(f"yosys stat has {len(modules)} modules and no 'design' summary")
        design = modules[0]
    return dict(sorted(design.get("num_cells_by_type", {}).items()))


def resource_needs(family, counts):
    """Lower bounds on the nextpnr resources a netlist with ``counts`` cells needs.

    Keys match the device capacity table. iCE40 logic cells hold one LUT4 and
    one flip-flop, so at least ``max(LUT4, FF)`` are needed; an ECP5 ``CCU2C``
    carry uses two COMB slots and a ``TRELLIS_DPR16X4`` LUT RAM uses two.
    """
    if family == "ice40":
        ffs = sum(n for t, n in counts.items() if t.startswith("SB_DFF"))
        return {
            "ICESTORM_LC": max(counts.get("SB_LUT4", 0), ffs, counts.get("SB_CARRY", 0)),
            "ICESTORM_RAM": counts.get("SB_RAM40_4K", 0),
            "ICESTORM_SPRAM": counts.get("SB_SPRAM256KA", 0),
            "ICESTORM_DSP": counts.get("SB_MAC16", 0),
            "SB_IO": counts.get("SB_IO", 0),
        }
    if family == "ecp5":
        return {
            "TRELLIS_COMB": (counts.get("LUT4", 0) + 2 * counts.get("CCU2C", 0)
                             + 2 * counts.get("TRELLIS_DPR16X4", 0)),
            "TRELLIS_FF": counts.get("TRELLIS_FF", 0),
            "DP16KD": counts.get("DP16KD", 0) + counts.get("PDPW16KD", 0),
            "MULT18X18D": counts.get("MULT18X18D", 0),
            "TRELLIS_IO": counts.get("TRELLIS_IO", 0),
        }
    raise ValueError(f"family must be 'ice40' or 'ecp5', not {family!r}")


_NO_BELS = re.compile(r"no BELs remaining to implement cell type '([^']+)'")
_NO_IO_LOC = re.compile(r"Unable to find a placement location for cell '([^']+)'")


def parse_nextpnr_failure(text):
    """The resource a failed nextpnr run ran out of, from its error output, or ``None``.

    nextpnr writes no report when placement fails, so this reads its ``ERROR:``
    line. Returns ``{"resource": name, "message": error line}``; ``resource`` is
    a nextpnr BEL type (``ICESTORM_DSP``) or ``"IO"`` for an IO that found no pin.
    """
    errors = [line.strip() for line in text.splitlines() if line.startswith("ERROR:")]
    for line in errors:
        found = _NO_BELS.search(line)
        if found:
            return {"resource": found.group(1), "message": line}
        found = _NO_IO_LOC.search(line)
        if found and found.group(1).endswith(("$sb_io", "$tr_io")):
            return {"resource": "IO", "message": line}
    return None


def fmax_summary(values):
    """``{"min", "median", "max"}`` of a list of Fmax values in MHz (rounded to 0.01)."""
    if not values:
        raise ValueError("fmax_summary needs at least one value, not []")
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2),
            "max": round(max(values), 2)}


def _fmt_use(util, kind):
    if kind not in util:
        return "-"
    return f"{util[kind]['used']}/{util[kind]['available']}"


#: Columns of the results table per family: (header, nextpnr resource).
TABLE_COLUMNS = {
    "ice40": [("LC", "ICESTORM_LC"), ("EBR", "ICESTORM_RAM"), ("SPRAM", "ICESTORM_SPRAM"),
              ("DSP", "ICESTORM_DSP"), ("IO", "SB_IO")],
    "ecp5": [("LUT4", "TRELLIS_COMB"), ("FF", "TRELLIS_FF"), ("DP16KD", "DP16KD"),
             ("MULT18", "MULT18X18D"), ("LUTRAM", "TRELLIS_RAMW"), ("IO", "TRELLIS_IO")],
}


def results_markdown(results):
    """A Markdown summary of one flow run (the ``results.json`` object).

    It names the part and speed grade, the seeds, the frequency target and the
    tool versions, and says so when the results were reused from the cache.
    """
    family = results["family"]
    util = results["seeds"][0]["utilization"]
    speed = results["speed_grade"]
    part = results["part"] + ("" if speed is None else f", speed grade {speed}")
    seeds = ", ".join(str(run["seed"]) for run in results["seeds"])
    lines = [f"# {results['config']} on {results['target']} ({part})", ""]
    if results["cached"]:
        lines += [f"Reused from the synthesis cache (key `{results['cache_key']}`): an "
                  f"identical earlier run (same Verilog, yosys script, device, seeds, "
                  f"frequency, options and tool versions) made these results; the tools "
                  f"were not run again.", ""]
    lines += [
        f"nextpnr seed(s) {seeds}, frequency target {results['freq_mhz']:g} MHz, "
        f"{results['router']}.",
        "",
        "| resource | used/available |",
        "| --- | --- |",
    ]
    for header, kind in TABLE_COLUMNS[family]:
        lines.append(f"| {header} ({kind}) | {_fmt_use(util, kind)} |")
    lines.append(f"| FF (yosys netlist) | {results['flip_flops']} |")
    lines += ["", "| seed | Fmax (MHz) | timing met | critical path |", "| --- | --- | --- | --- |"]
    for run in results["seeds"]:
        path = run["critical_path"]
        where = (f"{path['start']} -> {path['end']}, {path['delay_ns']} ns, "
                 f"{path['logic_levels']} logic levels" if path else "-")
        lines.append(f"| {run['seed']} | {run['fmax_mhz']:.2f} | "
                     f"{'yes' if run['timing_met'] else 'no'} | {where} |")
    summary = results["fmax_mhz"]
    lines += ["", f"Fmax over {len(results['seeds'])} seed(s): min {summary['min']}, "
              f"median {summary['median']}, max {summary['max']} MHz.", "",
              f"Memories (larger than {results['bram_min_bits']} bits must be block RAM):", "",
              "| memory | width x depth | bits | mapped to |", "| --- | --- | --- | --- |"]
    for mem in results["memories"]:
        cells = ", ".join(f"{n} {t}" for t, n in mem["cells"].items()) or "flip-flops/LUTs"
        lines.append(f"| {mem['name']} | {mem['width']} x {mem['depth']} | {mem['bits']} | "
                     f"{mem['kind']} ({cells}) |")
    lines += ["", "Tools: " + ", ".join(f"{k} {v}" for k, v in results["tools"].items()), ""]
    return "\n".join(lines)
