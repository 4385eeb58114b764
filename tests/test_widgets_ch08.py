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
