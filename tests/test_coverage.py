"""The functional coverage bookkeeping (sim/coverage.py): bins, count files, merge, report.

The bins themselves are hit by the Verilator testbenches; `make test`
(``--coverage-closure``, tests/conftest.py) fails if one is left unhit.
"""

import json

import pytest

from hw.eie.array import _State
from hw.eie.program import Error
from sim.coverage import BINS, Coverage, merge, report, unhit


def test_bins_name_every_error_code_and_state():
    keys = {b.key for b in BINS}
    assert len(keys) == len(BINS)
    for error in Error:
        assert (f"eie.error_{error.name.lower()}" in keys) == (error != Error.NONE)
    for state in _State:
        assert f"eie.reset_in_{state.name.lower()}" in keys


def test_hit_rejects_an_unknown_bin(tmp_path):
    cov = Coverage(tmp_path / "x.json")
    with pytest.raises(KeyError, match=r"Unknown coverage bin 'eie.nope'"):
        cov.hit("eie", "nope")
    cov.hit("eie", "queue_full", 0)
    cov.hit("nm", "acc_wrap", 3)
    cov.save()
    assert json.loads((tmp_path / "x.json").read_text()) == {"nm.acc_wrap": 3}


def test_merge_sums_files_and_lists_unhit_bins(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"eie.queue_full": 2, "nm.acc_wrap": 1}))
    (tmp_path / "b.json").write_text(json.dumps({"eie.queue_full": 5}))
    counts, files = merge(tmp_path)
    assert files == 2
    assert counts == {"eie.queue_full": 7, "nm.acc_wrap": 1}
    missing = unhit(counts)
    assert [b.key for b in missing] == [b.key for b in BINS
                                        if b.key not in ("eie.queue_full", "nm.acc_wrap")]
    table = report(counts).splitlines()
    # Unhit bins first, then the hit ones with their counts.
    assert table[2].startswith(f"| `{missing[0].key}` | **0 (unhit)** |")
    assert "| `eie.queue_full` | 7 |" in "\n".join(table[-2:])
    assert unhit({b.key: 1 for b in BINS}) == []


def test_merge_rejects_unknown_bins(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"eie.gone": 1}))
    with pytest.raises(ValueError, match=r"a.json: unknown coverage bins \['eie.gone'\]"):
        merge(tmp_path)


def test_counts_are_recorded_only_with_a_path(tmp_path):
    """Monitors of internal signals start only when counts are saved (see sim.mutation)."""
    assert not Coverage().recording
    cov = Coverage(tmp_path / "c.json")
    assert cov.recording
    cov.hit("nm", "acc_wrap", 2)
    cov.save()
    assert json.loads((tmp_path / "c.json").read_text()) == {"nm.acc_wrap": 2}
