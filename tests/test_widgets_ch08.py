"""The chapter 08 number-format explorer, driven headless: set the controls, read the state."""

from __future__ import annotations

import math
import struct

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from dlcore.widgets.ch08 import (
    FORMATS,
    POWER_RANGE,
    draw_formats,
    encode,
    explore,
    number_format_explorer,
    relative_error_curve,
)


def _decode(bits: str, e_bits: int, m_bits: int) -> float:
    """Value of a bit string by the textbook formula, independent of torch."""
    s, E, M = int(bits[0]), int(bits[1:1 + e_bits], 2), int(bits[1 + e_bits:], 2)
    bias = 2 ** (e_bits - 1) - 1
    if E == 2**e_bits - 1:
        return math.copysign(math.inf, -1 if s else 1) if M == 0 else math.nan
    if E == 0:
        return (-1) ** s * 2.0 ** (1 - bias) * (M / 2**m_bits)
    return (-1) ** s * 2.0 ** (E - bias) * (1 + M / 2**m_bits)


def test_explorer_is_a_widget_with_its_controls():
    explorer = number_format_explorer()
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"mantissa", "power"}
    assert explorer.image in explorer.children
    assert explorer.image.value[:4] == b"\x89PNG"
    assert set(explorer.state["formats"]) == set(FORMATS)
    assert explorer.state["value"] == pytest.approx(0.1)


@pytest.mark.parametrize("value", [0.1, -2.5, 1e-8, 3e-8, 1e-5, 65504.0, 65520.0, 1e-39, 1e-45,
                                   3.3e38, 1e39, 0.0, -0.0, 1.0 + 2**-8])
@pytest.mark.parametrize("name", list(FORMATS))
def test_bits_decode_to_the_stored_value(name, value):
    _, e_bits, m_bits = FORMATS[name]
    enc = encode(value, name)
    assert len(enc["bits"]) == 1 + e_bits + m_bits
    assert enc["bits"] == enc["sign"] + enc["exponent"] + enc["mantissa"]
    decoded = _decode(enc["bits"], e_bits, m_bits)
    assert decoded == enc["stored"] or (math.isnan(decoded) and math.isnan(enc["stored"]))


def test_fp32_bits_agree_with_the_struct_module():
    for value in (0.1, -1234.5678, 1e-40, 3.4e38):
        want = format(struct.unpack(">I", struct.pack(">f", value))[0], "032b")
        assert encode(value, "fp32")["bits"] == want


def test_flags_at_the_edges_of_each_format():
    assert encode(65520.0, "fp16")["flag"] == "overflow to inf"        # rounds up past 65504
    assert encode(65519.0, "fp16")["stored"] == 65504.0
    assert encode(2.0**-25, "fp16")["flag"] == "underflow to 0"          # a tie rounds to even: 0
    assert encode(2.0**-24, "fp16")["flag"] == "subnormal"
    assert encode(2.0**-14, "fp16")["kind"] == "normal"
    assert encode(1e-8, "bf16")["flag"] == "rounded"                    # bf16 has fp32's range
    assert encode(1e39, "bf16")["flag"] == "overflow to inf"
    assert encode(1e-39, "fp32")["flag"] == "subnormal"
    assert encode(0.5, "fp16")["flag"] == "exact" and encode(0.5, "fp16")["rel_error"] == 0.0
    assert encode(0.0, "fp16")["flag"] == "exact"
    inf = encode(1e39, "fp32")
    assert inf["kind"] == "inf" and inf["abs_error"] == math.inf


def test_rounding_error_is_within_half_an_ulp():
    rng = np.random.default_rng(0)
    for name, (dtype, _, m_bits) in FORMATS.items():
        for value in rng.uniform(1, 2, size=20) * 10.0 ** rng.integers(-4, 4, size=20):
            enc = encode(value, name)
            assert enc["rel_error"] <= 2.0 ** (-m_bits - 1) * (1 + 1e-12)
            assert enc["stored"] == torch.tensor(float(value), dtype=torch.float64).to(dtype).item()


def test_the_curve_bounds_the_real_rounding_error():
    for name, (dtype, _, _) in FORMATS.items():
        x, rel = relative_error_curve(name)
        stored = torch.from_numpy(x).to(dtype).double().numpy()
        finite = np.isfinite(rel)
        with np.errstate(invalid="ignore"):
            actual = np.abs(stored - x) / x
        assert np.all(actual[finite] <= rel[finite] * (1 + 1e-9))
        assert np.all(np.isinf(stored[~finite]))
        assert rel[0] == 1.0                                             # 1e-46 rounds to 0 everywhere


def test_extreme_control_values():
    explorer = number_format_explorer()
    c = explorer.controls
    c["mantissa"].value, c["power"].value = c["mantissa"].max, c["power"].max      # 9.999e39
    assert all(f["flag"] == "overflow to inf" for f in explorer.state["formats"].values())
    assert "overflow to inf" in explorer.label.value
    c["mantissa"].value, c["power"].value = c["mantissa"].min, c["power"].min      # -9.999e-46
    s = explorer.state["formats"]
    assert s["fp16"]["flag"] == s["bf16"]["flag"] == "underflow to 0"
    assert s["fp32"]["flag"] == "subnormal" and s["fp32"]["sign"] == "1"
    c["mantissa"].value = 0.0
    assert all(f["flag"] == "exact" and f["stored"] == 0 for f in explorer.state["formats"].values())
    assert POWER_RANGE == (c["power"].min, c["power"].max)


def test_changing_the_power_changes_state_and_picture():
    explorer = number_format_explorer(mantissa=1.0, power=-8)
    image = explorer.image.value
    assert explorer.state["formats"]["fp16"]["flag"] == "underflow to 0"
    explorer.controls["power"].value = -5
    assert explorer.state["formats"]["fp16"]["flag"] == "subnormal"
    assert explorer.image.value != image
    explorer.controls["power"].value = 5
    assert explorer.state["formats"]["fp16"]["flag"] == "overflow to inf"


def test_draw_formats_labels_its_axes():
    fig = draw_formats(explore(1.0, -8))
    ax_bits, ax = fig.axes
    assert ax_bits.get_title() and ax.get_title()
    assert "|x|" in ax.get_xlabel() and "error" in ax.get_ylabel()


def test_unknown_format_raises_a_clear_error():
    with pytest.raises(ValueError, match="unknown format"):
        encode(1.0, "fp8")


def _exact_round(value: float, e_bits: int, m_bits: int) -> float:
    """Round a float64 once to the nearest (e_bits, m_bits) number, ties to even, in exact
    rational arithmetic: the textbook rule, independent of torch and of float32."""
    from fractions import Fraction

    if value == 0 or not math.isfinite(value):
        return value
    bias = 2 ** (e_bits - 1) - 1
    x = Fraction(abs(value))
    k = max(math.floor(math.log2(abs(value))), 1 - bias)
    while Fraction(2) ** k > x and k > 1 - bias:
        k -= 1
    while Fraction(2) ** (k + 1) <= x:
        k += 1
    ulp = Fraction(2) ** (k - m_bits)
    n, r = divmod(x / ulp, 1)
    n = int(n) + (r > Fraction(1, 2) or (r == Fraction(1, 2) and int(n) % 2 == 1))
    y = n * ulp
    if y > (2 - Fraction(2) ** -m_bits) * Fraction(2) ** bias:
        return math.copysign(math.inf, value)
    return math.copysign(float(y), value)


#: just off a tie, where rounding first to float32 (torch's float64 -> 16-bit cast) goes wrong
_NEAR_TIES = [1 + 2**-11 + 2**-40, 1 + 2**-8 + 2**-40, 65519.99999, 2.98023224e-08,
              2.0**-25 + 2.0**-50, -(65520 - 1e-9), 2.0**-134 + 2.0**-160]


@pytest.mark.parametrize("value", _NEAR_TIES)
def test_values_just_off_a_tie_round_once(value):
    for name, (_, e_bits, m_bits) in FORMATS.items():
        assert encode(value, name)["stored"] == _exact_round(value, e_bits, m_bits), name
    assert encode(65519.99999, "fp16")["flag"] == "rounded"          # not "overflow to inf"
    assert encode(2.98023224e-08, "fp16")["flag"] == "subnormal"     # not "underflow to 0"


def test_rounding_matches_exact_rounding_across_every_range():
    rng = np.random.default_rng(5)
    values = rng.uniform(1, 2, 3000) * 2.0 ** rng.integers(-160, 130, 3000)
    for value in values * rng.choice([-1, 1], 3000):
        for name, (_, e_bits, m_bits) in FORMATS.items():
            assert encode(value, name)["stored"] == _exact_round(float(value), e_bits, m_bits), (name, value)
    with np.errstate(over="ignore"):                     # numpy rounds float64 -> float16 once
        for value in rng.uniform(-2, 2, 3000) * 2.0 ** rng.integers(-30, 17, 3000):
            assert encode(value, "fp16")["stored"] == float(np.float16(value))


@pytest.mark.parametrize("mantissa, power, flags", [
    (9.999, POWER_RANGE[1], ("overflow to inf",) * 3),
    (-9.999, POWER_RANGE[1], ("overflow to inf",) * 3),
    (0.001, POWER_RANGE[0], ("underflow to 0",) * 3),
    (-9.999, POWER_RANGE[0], ("subnormal", "underflow to 0", "underflow to 0")),
    (0.0, 0, ("exact",) * 3),
    (3.402, 38, ("rounded", "overflow to inf", "overflow to inf")),     # beyond bf16, not fp32
    (3.39, 38, ("rounded", "overflow to inf", "rounded")),
    (6.5504, 4, ("exact", "exact", "rounded")),
    (6.552, 4, ("exact", "overflow to inf", "rounded")),           # 65,520 exactly: a tie
    (6.11, -5, ("rounded", "rounded", "rounded")),                     # just above 2**-14
    (6.1, -5, ("rounded", "subnormal", "rounded")),                    # just below it
    (9.999, -41, ("subnormal", "underflow to 0", "subnormal")),
])
def test_controls_at_their_extremes_and_at_format_boundaries(mantissa, power, flags):
    explorer = number_format_explorer()
    explorer.controls["mantissa"].value = mantissa
    explorer.controls["power"].value = power
    got = tuple(explorer.state["formats"][name]["flag"] for name in ("fp32", "fp16", "bf16"))
    assert got == flags
    assert explorer.image.value[:4] == b"\x89PNG"
    for name, enc in explorer.state["formats"].items():
        assert enc["sign"] == ("1" if explorer.state["value"] < 0 or math.copysign(1, enc["stored"]) < 0
                               else "0"), name


def test_the_value_is_the_decimal_the_reader_chose():
    assert explore(6.552, 4)["value"] == 65520.0               # 6.552 * 10.0**4 is 65519.99999999999
    assert explore(6.5519, 4)["value"] == 65519.0
    assert explore(-1.0, -8)["value"] == -1e-08
    assert explore(6.552, 4)["formats"]["fp16"]["flag"] == "overflow to inf"   # a tie, to even: inf
