"""The mutation benchmark (:mod:`sim.mutation`): parsing, the table, and one real run."""

import pytest

from sim import mutation
from sim.mutation import SUBJECTS, Mutant, parse_mutations, report, run_subject

LINE = ("mutate -ctrl mutant_select 16 7 -mode cnot1 -module mac -cell $flatten\\mult_0.$7 "
        "-port Q -portbit 2 -ctrlbit 9 -wire mult_0.a_reg -wirebit 2 "
        f"-src {mutation.ROOT}/hw/primitives.py:113 -src /elsewhere/lib.py:5")


def test_parse_a_mutation_line():
    (m,) = parse_mutations(LINE + "\n\n")
    assert m == Mutant(index=7, mode="cnot1", cell="$flatten\\mult_0.$7", port="Q", bit=2,
                       wire="mult_0.a_reg", src=("hw/primitives.py:113", "/elsewhere/lib.py:5"),
                       ctrlbit=9)
    assert m.block == "hw/primitives.py"
    assert m.describe() == "cnot1 $flatten\\mult_0.$7 Q[2] by [9] (mult_0.a_reg)"


def test_parse_rejects_other_commands():
    with pytest.raises(ValueError, match="line 2 is not a `mutate -ctrl mutant_select`"):
        parse_mutations(LINE + "\nmutate -mode inv -cell $1\n")


def _entry(index, src, killed):
    return dict(index=index, mode="inv", cell=f"${index}", port="Y", bit=0, wire="",
                src=[src], killed=killed, failed=int(killed))


def test_report_counts_per_block_and_lists_survivors(monkeypatch):
    monkeypatch.setattr(mutation, "EQUIVALENT", {("s", "inv $5 Y[0]"): "unused bit",
                                                 ("s", "inv $6 Y[0]"): "stale"})
    summary = {"subject": "s", "mutants": [
        _entry(1, "hw/a.py:1", True), _entry(2, "hw/a.py:2", False),
        _entry(3, "hw/b.py:9", True), _entry(4, "hw/b.py:9", True),
        _entry(5, "hw/b.py:9", False), _entry(6, "hw/b.py:9", True)]}
    text = report([summary])
    assert "| s | `hw/a.py` | 2 | 1 | 0 | 1 | 50.0 % |" in text
    assert "| s | `hw/b.py` | 4 | 3 | 1 | 0 | 100.0 % |" in text
    assert "| **s** | all | **6** | **4** | **1** | **1** | **80.0 %** |" in text
    assert "| s | 2 | `inv $2 Y[0]` | hw/a.py:2 |" in text
    assert "| s | 5 | `inv $5 Y[0]` | hw/b.py:9 | unused bit |" in text
    assert "| s | 1 |" not in text
    # Mutant 6 is killed: its equivalence argument is stale.
    assert mutation.stale_equivalences([summary]) == [("s", "inv $6 Y[0]")]
    assert "**Stale equivalence arguments**" in text


@pytest.mark.verilator
def test_stuck_output_valid_is_killed_and_the_unmutated_mac_passes(tmp_path):
    """A real run on the MAC: its output ``valid`` stuck at 0 cannot pass the testbench.

    ``run_subject`` raises if the netlist with no mutant selected fails its
    tests, so this also checks that the flattened netlist equals the design.
    """
    mac = next(s for s in SUBJECTS if s.test_module == "sim.tb_nm_mac")
    result = run_subject(mac, tmp_path, mutants=2, jobs=2,
                         only={"mode": "const0", "wire": "o__valid"})
    assert result["tests"] >= 5
    assert result["mutants"], "no mutant of o__valid was made"
    for m in result["mutants"]:
        assert (m["mode"], m["wire"]) == ("const0", "o__valid")
        assert m["killed"], m


def test_subject_count_is_checked(tmp_path):
    with pytest.raises(ValueError, match="mutants must be 1 to 65535, not 0"):
        run_subject(SUBJECTS[1], tmp_path, mutants=0)


@pytest.mark.parametrize("argv,message", [
    (["--jobs", "0"], "--jobs must be at least 1, not 0"),
    (["--mutants", "0"], "--mutants must be 1 to 65535, not 0"),
    (["--mutants", "65536"], "--mutants must be 1 to 65535, not 65536"),
    (["--subjects", "nope"], "invalid choice: 'nope'"),
])
def test_command_line_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        mutation.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_coverage_and_formal_command_line_errors(capsys):
    from sim import coverage
    from sim.formal.__main__ import main as formal_main

    for main, argv, message in [(coverage.main, ["--jobs", "0"], "--jobs must be at least 1"),
                                (formal_main, ["--timeout", "0"], "--timeout must be a positive"),
                                (formal_main, ["no_such_check"], "no_such_check")]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_parse_rejects_an_option_without_a_value():
    with pytest.raises(ValueError, match="line 1 has an option without a value"):
        parse_mutations("mutate -ctrl mutant_select 16 1 -mode inv -cell\n")


def test_results_without_simulated_time_are_an_error(tmp_path):
    path = tmp_path / "results.xml"
    path.write_text('<testsuites><testsuite><testcase name="test_a"><properties>'
                    '<property name="sim_time_unit" value="ps" /></properties>'
                    '</testcase></testsuite></testsuites>')
    with pytest.raises(RuntimeError, match="test test_a has no simulated time in ns"):
        mutation._test_cycles(path)
    path.write_text("<testsuites><testsuite /></testsuites>")
    with pytest.raises(RuntimeError, match="no test cases"):
        mutation._test_cycles(path)


def test_a_filter_that_matches_nothing_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="nm-mac-2of4-g1-16b: yosys found no mutation "
                                           "candidate"):
        run_subject(SUBJECTS[1], tmp_path, mutants=2, only={"wire": "no_such_wire"})
