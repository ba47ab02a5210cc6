"""Bad input to the Python API: every case is refused with a message naming the parameter.

Nothing on the bit-exact path is silently converted (a float truncated, a
value masked, an activation wrapped onto another address); a wrong type is a
``TypeError``, a value out of range a ``ValueError``, and a hand-built layer or
timing is held to the invariants of the ones the code builds.
"""

import dataclasses
import warnings

import numpy as np
import pytest

from hw.eie.program import EieProgram, Error, Op, decode_status
from sw_model.codebook import kmeans_1d, share_weights
from sw_model.config import EieConfig, EieTiming
from sw_model.eie_cycles import chain_cycles, column_acts, layer_cycles
from sw_model.eie_format import EieLayer, check_fits, encode, memory_layout
from sw_model.eie_model import eie_chain
from sw_model.fixed import (
    check_int_array,
    from_fixed,
    int_range,
    requantize,
    round_shift_right,
    saturate,
    to_fixed,
    wrap,
)
from sw_model.train import Mlp, iterative_prune, load_digits_dataset, train

CODEBOOK = np.array([0, 100, -200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300,
                     1400, 1500])
TIMING = EieTiming(read_first=1, group_latency=2, group_slots=2, ptr_latency=1,
                   credit_return=1, pe_drain=1, idle_latency=1)


def _layer(n_pe=2):
    """A 4 x 3 layer over ``n_pe`` PEs with a zero run in column 0."""
    indices = np.array([[1, 0, 2], [0, 3, 0], [0, 0, 4], [5, 0, 0]])
    return encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe))


def _fields(layer, **changes):
    fields = dict(n_rows=layer.n_rows, n_cols=layer.n_cols, n_pe=layer.n_pe,
                  entries_per_word=layer.entries_per_word, codebook=layer.codebook,
                  v=layer.v, z=layer.z, ptr=layer.ptr, bias=layer.bias)
    fields.update(changes)
    return fields


def _with_stream(streams, pe, values):
    streams = list(streams)
    streams[pe] = np.array(values, dtype=np.uint8)
    return tuple(streams)


# --- sw_model.fixed: values -------------------------------------------------------------


@pytest.mark.parametrize("call, exc, message", [
    (lambda: saturate(np.array([1e20]), 16), TypeError,
     r"^x must be an integer array, not an array of dtype float64$"),
    (lambda: saturate(np.array([np.nan]), 16), TypeError,
     r"^x must be an integer array, not an array of dtype float64$"),
    (lambda: wrap(1.7, 32), TypeError, r"^x must be an integer, not 1\.7$"),
    (lambda: wrap(True, 32), TypeError, r"^x must be an integer, not True$"),
    (lambda: wrap(np.array([1, 2], dtype=np.uint8) > 1, 8), TypeError,
     r"^x must be an integer array, not an array of dtype bool$"),
    (lambda: wrap(np.array(["7"]), 8), TypeError,
     r"^x must be an integer array, not an array of dtype <U1$"),
    (lambda: wrap(1 << 70, 32), ValueError,
     r"^x must fit in 64-bit signed integers, but holds 1180591620717411303424$"),
    (lambda: wrap([5, -(1 << 64)], 32), ValueError,
     r"^x must fit in 64-bit signed integers, but holds -18446744073709551616$"),
    (lambda: wrap(np.array([(1 << 63) + 5], dtype=np.uint64), 32), ValueError,
     r"^x must fit in 64-bit signed integers, but holds 9223372036854775813$"),
    (lambda: round_shift_right(np.array([2.5]), 1), TypeError,
     r"^x must be an integer array, not an array of dtype float64$"),
    (lambda: requantize(np.array([1.7e3]), 4), TypeError,
     r"^acc must be an integer array, not an array of dtype float64$"),
    (lambda: from_fixed(np.array([1.5]), 2), TypeError,
     r"^q must be an integer array, not an array of dtype float64$"),
    (lambda: to_fixed(1 + 2j, 8), TypeError, r"^x must be a real number, not \(1\+2j\)$"),
    (lambda: to_fixed(np.array([0.5, 1j]), 8), TypeError,
     r"^x must be an array of real numbers, not an array of dtype complex128$"),
    (lambda: to_fixed(["0.5"], 8), TypeError,
     r"^x must be an array of real numbers, not an array of dtype <U3$"),
    (lambda: to_fixed([True], 8), TypeError,
     r"^x must be an array of real numbers, not an array of dtype bool$"),
    (lambda: check_int_array("words", np.array([(1 << 64) - 1], dtype=np.uint64), 64,
                             signed=False), ValueError,
     r"^words must fit in 64-bit signed integers, but holds 18446744073709551615$"),
])
def test_fixed_refuses_values_it_would_convert(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_to_fixed_saturates_huge_finite_values_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_fixed([1.7e308, -1.7e308, 1e20], 8).tolist() == [32767, -32768, 32767]


# --- sw_model.fixed: widths and shifts --------------------------------------------------


@pytest.mark.parametrize("call, exc, message", [
    (lambda: wrap(5, 0), ValueError, r"^bits must be in the range \[1, 63\], not 0$"),
    (lambda: wrap(5, 64), ValueError, r"^bits must be in the range \[1, 63\], not 64$"),
    (lambda: wrap(5, 16.0), TypeError, r"^bits must be an integer, not 16\.0$"),
    (lambda: saturate(5, -1), ValueError, r"^bits must be in the range \[1, 63\], not -1$"),
    (lambda: saturate(5, 1 << 70), ValueError,
     r"^bits must be in the range \[1, 63\], not 1180591620717411303424$"),
    (lambda: round_shift_right(5, -1), ValueError,
     r"^shift must be in the range \[0, 62\], not -1$"),
    (lambda: round_shift_right(5, 63), ValueError,
     r"^shift must be in the range \[0, 62\], not 63$"),
    (lambda: round_shift_right(5, "2"), TypeError, r"^shift must be an integer, not '2'$"),
    (lambda: requantize(np.array([100]), -3), ValueError,
     r"^shift must be in the range \[0, 62\], not -3$"),
    (lambda: requantize(np.array([100]), 2, out_bits=0), ValueError,
     r"^out_bits must be in the range \[1, 63\], not 0$"),
    (lambda: requantize(np.array([100]), 2, relu=1), TypeError,
     r"^relu must be a bool, not 1$"),
    (lambda: to_fixed(1.0, -1), ValueError,
     r"^frac_bits must be in the range \[0, 62\], not -1$"),
    (lambda: to_fixed(1.0, 8, bits=0), ValueError,
     r"^bits must be in the range \[1, 63\], not 0$"),
    (lambda: to_fixed(1.0, None), TypeError, r"^frac_bits must be an integer, not None$"),
    (lambda: from_fixed([1], 70), ValueError,
     r"^frac_bits must be in the range \[0, 62\], not 70$"),
    (lambda: int_range(0), ValueError, r"^bits must be at least 1, not 0$"),
    (lambda: int_range(8.0), TypeError, r"^bits must be an integer, not 8\.0$"),
    (lambda: int_range(8, signed="yes"), TypeError, r"^signed must be a bool, not 'yes'$"),
])
def test_fixed_checks_widths_and_shifts(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# --- sw_model.codebook ------------------------------------------------------------------


@pytest.mark.parametrize("x, exc, message", [
    ([0.5, np.nan, 1.0], ValueError, r"^x must hold only finite values, but holds nan$"),
    ([0.5, np.inf], ValueError, r"^x must hold only finite values, but holds inf$"),
    ([-np.inf, 0.5], ValueError, r"^x must hold only finite values, but holds -inf$"),
    ([-1e308, 1e308], ValueError,
     r"^x must hold values whose sums and differences are finite in float64, not values up "
     r"to 1e\+308 in magnitude$"),
    ([1e308, 1e308, 1e308], ValueError,
     r"^x must hold values whose sums and differences are finite in float64, not values up "
     r"to 1e\+308 in magnitude$"),
    (np.array([1 + 1j]), TypeError,
     r"^x must hold real numbers, not an array of dtype complex128$"),
])
def test_kmeans_refuses_what_would_give_nan_centroids(x, exc, message):
    with pytest.raises(exc, match=message):
        kmeans_1d(x, 2)


def test_share_weights_counts_saturated_weights():
    # 12 fractional bits: the range is [-32768, 32767] / 4096 = [-8.0, 7.99976].
    _, codebook, report = share_weights(np.array([[10.0, -10.0, 0.0, 1.0]]))
    assert codebook[1:4].tolist() == [-32768, 4096, 32767]
    assert report["saturated"] == 2
    # 32767.5 rounds half up to 32768, out of range; -32768.5 rounds up to -32768, in range.
    edge = np.array([[32767.49, 32767.5, -32768.5, -32768.51]]) / 4096
    assert share_weights(edge)[2]["saturated"] == 2
    assert share_weights(np.array([[0.5, -7.5]]))[2]["saturated"] == 0
    # With 15 fractional bits the range is [-1.0, 0.99997].
    assert share_weights(np.array([[0.5, -7.5]]), w_frac_bits=15)[2]["saturated"] == 1


# --- sw_model.eie_format.EieLayer invariants --------------------------------------------


def test_hand_built_layer_equal_to_encoded_one_is_accepted():
    layer = _layer()
    again = EieLayer(**_fields(layer, v=tuple(np.array(v) for v in layer.v),
                               z=[np.array(z, dtype=np.int64) for z in layer.z],
                               ptr=np.array(layer.ptr)))
    for pe in range(layer.n_pe):
        assert np.array_equal(again.entries(pe), layer.entries(pe))
        assert again.v[pe].dtype == np.uint8 and not again.v[pe].flags.writeable
    assert again.ptr.dtype == np.int64 and not again.ptr.flags.writeable


def test_hand_built_layer_leaves_the_callers_arrays_writeable():
    layer = _layer()
    ptr = np.array(layer.ptr)
    v = tuple(np.array(s) for s in layer.v)
    EieLayer(**_fields(layer, v=v, ptr=ptr))
    assert ptr.flags.writeable and all(s.flags.writeable for s in v)


def _layer_cases():
    layer = _layer()   # PE 0: rows 0, 2; PE 1: rows 1, 3
    bad_codebook = CODEBOOK.copy()
    bad_codebook[0] = 5
    ptr_start = np.array(layer.ptr)
    ptr_start[1, 0] = 2
    ptr_fall = np.array(layer.ptr)
    ptr_fall[0, 1], ptr_fall[0, 2] = 2, 1
    return [
        (dict(codebook=bad_codebook), ValueError,
         r"^codebook\[0\] must be 0 \(index 0 marks zero weights\), not 5$"),
        (dict(codebook=CODEBOOK[:15]), ValueError,
         r"^codebook must have exactly 16 entries, not 15$"),
        (dict(codebook=CODEBOOK * 100), ValueError,
         r"^codebook must fit in 16-bit signed range \[-32768, 32767\], but holds 150000$"),
        (dict(v=np.zeros(3)), TypeError,
         r"^v must be a tuple of one array per PE, not array\(\[0\., 0\., 0\.\]\)$"),
        (dict(v=(layer.v[0],)), ValueError,
         r"^v and z must hold one array per PE \(2\), not 1 and 2$"),
        (dict(ptr=layer.ptr.astype(float)), TypeError,
         r"^ptr must be an integer array, not an array of dtype float64$"),
        (dict(ptr=ptr_start), ValueError,
         r"^ptr\[1, 0\] must be 0 \(the start of PE 1's stream\), not 2$"),
        (dict(ptr=ptr_fall), ValueError,
         r"^ptr\[0\] must be non-decreasing, but ptr\[0, 2\] = 1 follows ptr\[0, 1\] = 2$"),
        (dict(v=_with_stream(layer.v, 0, [1, 2, 4, 0])), ValueError,
         r"^v\[0\] must hold 3 entries \(ptr\[0, -1\], the length of PE 0's stream\), "
         r"not shape \(4,\)$"),
        (dict(z=_with_stream(layer.z, 1, [0])), ValueError,
         r"^z\[1\] must hold 2 entries \(ptr\[1, -1\], the length of PE 1's stream\), "
         r"not shape \(1,\)$"),
        (dict(v=_with_stream(layer.v, 0, [1, 16, 4])), ValueError,
         r"^v\[0\] must hold codebook indices 0\.\.15, but holds 16$"),
        (dict(z=_with_stream(layer.z, 0, [0, 0, 20])), ValueError,
         r"^z\[0\] must hold zero runs 0\.\.15, but holds 20$"),
        (dict(v=tuple(s.astype(float) for s in layer.v)), TypeError,
         r"^v\[0\] must be an integer array, not an array of dtype float64$"),
        # PE 0 has 2 local rows; a run of 2 zeros puts column 0's entry on local row 2.
        (dict(z=_with_stream(layer.z, 0, [2, 0, 0])), ValueError,
         r"^z\[0\] runs past PE 0's 2 local row\(s\) in column 0 \(it reaches local row 2\)$"),
        # Column 2 of PE 0 holds rows 0 and 2: a zero between them runs past the end.
        (dict(z=_with_stream(layer.z, 0, [0, 0, 1])), ValueError,
         r"^z\[0\] runs past PE 0's 2 local row\(s\) in column 2 \(it reaches local row 2\)$"),
    ]


@pytest.mark.parametrize("changes, exc, message", _layer_cases())
def test_hand_built_layer_invariants(changes, exc, message):
    layer = _layer()
    # The layer's streams, for reference: the cases above are written against them.
    assert [s.tolist() for s in layer.v] == [[1, 2, 4], [5, 3]]
    assert [s.tolist() for s in layer.z] == [[0, 0, 0], [1, 0]]
    assert layer.ptr.tolist() == [[0, 1, 1, 3], [0, 1, 2, 2]]
    with pytest.raises(exc, match=message):
        EieLayer(**_fields(layer, **changes))


# --- configurations and timings ---------------------------------------------------------


@pytest.mark.parametrize("field, value, exc, message", [
    ("read_first", 1.0, TypeError, r"^read_first must be an integer, not 1\.0$"),
    ("ptr_latency", True, TypeError, r"^ptr_latency must be an integer, not True$"),
    ("credit_return", "1", TypeError, r"^credit_return must be an integer, not '1'$"),
    ("pe_drain", -1, ValueError, r"^pe_drain must be in the range \[0, 65536\], not -1$"),
    ("idle_latency", -5, ValueError, r"^idle_latency must be in the range \[0, 65536\], not -5$"),
    ("group_slots", 0, ValueError, r"^group_slots must be in the range \[1, 65536\], not 0$"),
])
def test_timing_fields_are_non_negative_integers(field, value, exc, message):
    with pytest.raises(exc, match=message):
        dataclasses.replace(TIMING, **{field: value})


def test_negative_latency_never_reaches_the_cycle_model():
    layer = _layer()
    with pytest.raises(ValueError, match=r"^read_first must be in the range \[0, 65536\], "
                                         r"not -100$"):
        layer_cycles(layer, np.array([1, 1, 1]), config=EieConfig(n_pe=2),
                     timing=dataclasses.replace(TIMING, read_first=-100))


@pytest.mark.parametrize("call", [
    lambda layer: layer_cycles(layer, np.array([1, 2, 3]), config=None, timing=TIMING),
    lambda layer: chain_cycles([(layer, False)], np.array([1, 2, 3]), config=None,
                               timing=TIMING),
    lambda layer: column_acts(layer, np.array([1, 2, 3]), config=None),
    lambda layer: memory_layout([layer], None),
    lambda layer: check_fits([layer], None),
    lambda layer: eie_chain([(layer, False)], np.array([1, 2, 3]), config=None),
])
def test_config_none_is_a_type_error(call):
    with pytest.raises(TypeError, match=r"^config must be an EieConfig, not None$"):
        call(_layer())


def test_chain_cycles_checks_the_timing_before_the_model():
    with pytest.raises(TypeError, match=r"^timing must be an EieTiming \(from EieArray.timing "
                                        r"or the design's side-car\), not None$"):
        chain_cycles([(_layer(), False)], np.array([1.5, 2, 3]), config=EieConfig(n_pe=2),
                     timing=None)


def test_column_acts_checks_the_layer():
    with pytest.raises(TypeError, match=r"^layer must be an EieLayer, not 3$"):
        column_acts(3, np.array([1]), config=EieConfig(n_pe=1))


# --- hw.eie.program.EieProgram.input_commands -------------------------------------------


@pytest.fixture
def program():
    config = EieConfig(n_pe=2)
    return EieProgram([(_layer(), False)], config=config)


@pytest.mark.parametrize("acts, exc, message", [
    ([40000, 1, 2], ValueError,
     r"^acts must fit in 16-bit signed range \[-32768, 32767\], but holds 40000$"),
    ([1, -32769, 2], ValueError,
     r"^acts must fit in 16-bit signed range \[-32768, 32767\], but holds -32769$"),
    ([1.7, 1, 2], TypeError, r"^acts must be an integer array, not an array of dtype float64$"),
    (list(range(9)), ValueError, r"^acts must have length 3 \(the layer's inputs\), not 9$"),
    ([1, 2], ValueError, r"^acts must have length 3 \(the layer's inputs\), not 2$"),
    ([[1, 2, 3]], ValueError, r"^acts must have 1 dimension\(s\), not shape \(1, 3\)$"),
])
def test_input_commands_refuse_what_the_array_would_mangle(program, acts, exc, message):
    with pytest.raises(exc, match=message):
        program.input_commands(acts)


def test_input_commands_of_valid_activations(program):
    cmds = program.input_commands(np.array([-1, 32767, -32768], dtype=np.int16))
    assert [(int(op), pe, addr, data) for op, pe, addr, data in cmds] == [
        (6, 0, 0, 0xFFFF), (6, 1, 0, 0x7FFF), (6, 0, 1, 0x8000)]


def test_decode_status_refuses_bits_above_the_count():
    assert decode_status(0x3000 << 8 | 0x25) == (Error.DATA, Op.WRITE_PTR, 0x3000)
    assert decode_status((0xFFFF << 8) | 0xD1) == (Error.OPCODE, 13, 0xFFFF)
    with pytest.raises(ValueError, match=r"READ_STATUS data 0x80000000000015 has bits "
                                         r"above bit 23 set"):
        decode_status(1 << 55 | 0x15)


# --- sw_model.train ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset(seed=0)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"lr": float("nan")}, ValueError, r"^lr must be a finite number above 0, not nan$"),
    ({"lr": float("inf")}, ValueError, r"^lr must be a finite number above 0, not inf$"),
    ({"lr": 0.0}, ValueError, r"^lr must be a finite number above 0, not 0\.0$"),
    ({"lr": -1e-3}, ValueError, r"^lr must be a finite number above 0, not -0\.001$"),
    ({"lr": "0.01"}, TypeError, r"^lr must be a number, not '0\.01'$"),
    ({"batch": 0}, ValueError, r"^batch must be at least 1, not 0$"),
    ({"batch": 8.0}, TypeError, r"^batch must be an integer, not 8\.0$"),
    ({"seed": -1}, ValueError, r"^seed must be at least 0, not -1$"),
    ({"epochs": -1}, ValueError, r"^epochs must be at least 0, not -1$"),
    ({"progress": "yes"}, TypeError, r"^progress must be callable or None, not 'yes'$"),
])
def test_train_checks_its_hyper_parameters(digits, kwargs, exc, message):
    mlp = Mlp.init((64, 10), seed=0)
    before = [w.copy() for w in mlp.weights]
    with pytest.raises(exc, match=message):
        train(mlp, digits, **{"epochs": 1, **kwargs})
    assert all(np.array_equal(a, b) for a, b in zip(before, mlp.weights, strict=True))


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"test_fraction": float("nan")}, ValueError, r"^test_fraction must be in \(0, 1\), not nan$"),
    ({"test_fraction": "0.25"}, TypeError, r"^test_fraction must be a number, not '0\.25'$"),
    ({"seed": -1}, ValueError, r"^seed must be at least 0, not -1$"),
])
def test_digits_split_checks_its_parameters(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        load_digits_dataset(**kwargs)


def test_train_checks_the_model_and_the_data(digits):
    with pytest.raises(TypeError, match=r"^mlp must be an Mlp, not None$"):
        train(None, digits, epochs=1)
    with pytest.raises(TypeError, match=r"^data must be a Dataset, not None$"):
        train(Mlp.init((64, 10)), None, epochs=1)


def _keep(layer, w, density):
    return w


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"schedule": 0.5}, TypeError, r"^schedule must be a sequence of densities, not 0\.5$"),
    ({"schedule": ["0.5"]}, TypeError,
     r"^schedule\[0\] must be a density \(a number\), not '0\.5'$"),
    ({"schedule": [float("nan")]}, ValueError,
     r"^schedule must hold decreasing densities in \(0, 1\], but step 0 is nan after 1\.0$"),
    ({"prune": None}, TypeError, r"^prune must be callable, not None$"),
    ({"finetune_epochs": -1}, ValueError, r"^finetune_epochs must be at least 0, not -1$"),
    ({"lr": float("nan")}, ValueError, r"^lr must be a finite number above 0, not nan$"),
    ({"seed": 1.5}, TypeError, r"^seed must be an integer, not 1\.5$"),
    ({"progress": 3}, TypeError, r"^progress must be callable or None, not 3$"),
])
def test_iterative_prune_checks_everything_before_pruning(digits, kwargs, exc, message):
    mlp = Mlp.init((64, 10), seed=0)
    before = [w.copy() for w in mlp.weights]
    args = {"schedule": [0.5], "prune": _keep, "finetune_epochs": 1, **kwargs}
    with pytest.raises(exc, match=message):
        iterative_prune(mlp, digits, **args)
    assert all(np.array_equal(a, b) for a, b in zip(before, mlp.weights, strict=True))
