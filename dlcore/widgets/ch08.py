"""Chapter 08 explorer: one number stored in float32, float16 and bfloat16.

Introduced in chapter 08 ("From NumPy to PyTorch"). A floating-point number is stored as a
sign bit ``s``, an exponent field ``E`` of ``e`` bits and a mantissa (fraction) field ``M``
of ``m`` bits. A *normal* number (``0 < E < 2**e - 1``) is

    (-1)**s * 2**(E - bias) * (1 + M / 2**m),    bias = 2**(e - 1) - 1,

and a *subnormal* one (``E = 0``, ``M > 0``) is ``(-1)**s * 2**(1 - bias) * (M / 2**m)``:
it trades precision for range below the smallest normal number. ``E = 2**e - 1`` holds
inf (``M = 0``) and NaN.

The explorer takes a value ``mantissa * 10**power``, rounds it into each format with torch
(round to nearest, ties to even; once, see :func:`_round`), and shows the three bit fields, the stored value, the
rounding error, and a flag for what the reader must notice: "overflow to inf",
"underflow to 0", "subnormal". Its controls and results are attributes, which is how
``tests/test_widgets_ch08.py`` drives it without a browser::

    explorer = number_format_explorer()
    explorer.controls["power"].value = -8
    explorer.state["formats"]["fp16"]["flag"]      # "underflow to 0" or "subnormal"
"""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np
import torch

from ..plot import PALETTE

#: name -> (torch dtype, exponent bits, mantissa bits)
FORMATS = {
    "fp32": (torch.float32, 8, 23),
    "fp16": (torch.float16, 5, 10),
    "bf16": (torch.bfloat16, 8, 7),
}
#: what each field is drawn in
FIELD_COLORS = {"sign": PALETTE[3], "exponent": PALETTE[0], "mantissa": PALETTE[1]}
_INT_VIEW = {16: torch.int16, 32: torch.int32}
#: the x range of the error figure, in powers of ten
POWER_RANGE = (-46, 39)


def _round(value: float, dtype) -> torch.Tensor:
    """``value`` rounded once to the nearest number of ``dtype`` (ties to even), as a 0-d tensor.

    torch's float64 -> float16 / bfloat16 cast goes through float32 and so rounds twice: a
    value just below a tie, such as 65,519.99999 or 1 + 2**-11 + 2**-40, can land on the
    wrong side (65,519.99999 becomes inf in float16 instead of 65,504). Rounding to float32
    *to odd* first (truncate, then set the last bit if anything was cut off) keeps enough
    information for torch's second, float32 -> 16-bit rounding to be the correct one.
    """
    if dtype == torch.float32 or not math.isfinite(value):
        return torch.tensor(value, dtype=torch.float64).to(dtype)
    with np.errstate(over="ignore"):                             # beyond float32: inf, then max
        f32 = np.float32(value)
    if math.isinf(f32) or abs(float(f32)) > abs(value):          # truncate toward zero
        f32 = np.nextafter(f32, np.float32(0.0))
    bits = np.array(f32, dtype=np.float32).view(np.uint32)
    if float(f32) != value:                                       # inexact: make it odd
        bits = bits | np.uint32(1)
    odd = torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).reshape(()))
    return odd.to(dtype)


def encode(value: float, name: str) -> dict:
    """Round ``value`` into format ``name`` (``"fp32"``, ``"fp16"`` or ``"bf16"``).

    Returns:
        A dict with ``bits`` (a string of 0/1, sign first), the fields ``sign``,
        ``exponent`` and ``mantissa`` (bit strings), ``kind`` (``"zero"``,
        ``"subnormal"``, ``"normal"``, ``"inf"`` or ``"nan"``), ``stored`` (the stored
        value as a Python float), ``abs_error`` and ``rel_error`` (``|stored - value|``
        and that divided by ``|value|``; inf when the stored value is inf, NaN for a zero
        or NaN input's relative error), and ``flag``: ``"overflow to inf"``,
        ``"underflow to 0"``, ``"subnormal"``, ``"exact"`` or ``"rounded"``.
    """
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of {list(FORMATS)}")
    dtype, e_bits, m_bits = FORMATS[name]
    value = float(value)
    stored_t = _round(value, dtype)
    n_bits = 1 + e_bits + m_bits
    raw = int(stored_t.view(_INT_VIEW[n_bits]).item()) & ((1 << n_bits) - 1)
    bits = format(raw, f"0{n_bits}b")
    sign, exponent, mantissa = bits[0], bits[1:1 + e_bits], bits[1 + e_bits:]
    E, M = int(exponent, 2), int(mantissa, 2)
    if E == 0:
        kind = "zero" if M == 0 else "subnormal"
    elif E == (1 << e_bits) - 1:
        kind = "inf" if M == 0 else "nan"
    else:
        kind = "normal"
    stored = float(stored_t.item())
    if math.isinf(stored) or math.isnan(stored) or math.isnan(value) or math.isinf(value):
        abs_error = 0.0 if stored == value else math.inf
        if math.isnan(value):
            abs_error = math.nan
    else:
        abs_error = abs(stored - value)
    rel_error = abs_error / abs(value) if value != 0 and math.isfinite(value) else (
        0.0 if stored == value else math.nan)
    if kind == "inf" and math.isfinite(value):
        flag = "overflow to inf"
    elif kind == "zero" and value != 0:
        flag = "underflow to 0"
    elif kind == "subnormal":
        flag = "subnormal"
    elif stored == value:
        flag = "exact"
    else:
        flag = "rounded"
    return {"format": name, "value": value, "bits": bits, "sign": sign, "exponent": exponent,
            "mantissa": mantissa, "kind": kind, "stored": stored, "abs_error": abs_error,
            "rel_error": rel_error, "flag": flag}


def relative_error_curve(name: str, powers=None) -> tuple[np.ndarray, np.ndarray]:
    """|x| on a log grid, and the largest relative rounding error of a number near x in ``name``.

    Round to nearest is off by at most half the gap between neighbouring numbers of the
    format (half an *ulp*): ``2**(floor(log2 x) - m) / 2`` for a normal x, and the fixed
    ``2**(1 - bias - m) / 2`` for a subnormal one, which is why the relative error grows
    there. Below half the smallest subnormal, x rounds to 0 (error 1, all of it lost);
    beyond the largest finite number it rounds to inf (error inf).
    """
    dtype, e_bits, m_bits = FORMATS[name]
    bias = 2 ** (e_bits - 1) - 1
    x = np.logspace(*(POWER_RANGE if powers is None else powers), 1500)
    exponent = np.maximum(np.floor(np.log2(x)), 1 - bias)      # subnormals share 2**(1 - bias)
    rel = 0.5 * 2.0 ** (exponent - m_bits) / x
    finfo = torch.finfo(dtype)
    rel[x < 2.0 ** (1 - bias - m_bits) / 2] = 1.0                # rounds to 0
    rel[x >= float(finfo.max) * (1 + 2.0 ** (-m_bits - 1))] = np.inf   # rounds to inf
    return x, rel


def explore(mantissa: float, power: int) -> dict:
    """Encode ``mantissa * 10**power`` in every format; the state of the explorer."""
    # Parse the decimal "6.552e4" rather than multiply 6.552 * 10.0**4 (= 65519.99999999999):
    # the reader means the decimal number, and float() rounds it to float64 only once.
    value = float(f"{float(mantissa)!r}e{int(power)}") if mantissa != 0 else 0.0
    return {"mantissa": float(mantissa), "power": int(power), "value": value,
            "formats": {name: encode(value, name) for name in FORMATS}}


def _draw_bits(ax, state: dict) -> None:
    """One row of boxes per format: sign, exponent and mantissa bits of the value."""
    width = 0.9 / 32                                  # one bit's box, fp32 fills the row
    for row, (name, enc) in enumerate(state["formats"].items()):
        y = len(FORMATS) - 1 - row
        fields = [("sign", enc["sign"]), ("exponent", enc["exponent"]), ("mantissa", enc["mantissa"])]
        x = 0.08
        for field, bits in fields:
            for bit in bits:
                ax.add_patch(_box(x, y, width, FIELD_COLORS[field]))
                ax.text(x + width / 2, y + 0.35, bit, ha="center", va="center", fontsize=7,
                        color="white", family="monospace")
                x += width
        ax.text(0.0, y + 0.35, name, ha="left", va="center", fontsize=9, weight="bold")
        ax.text(0.08, y - 0.12, f"stored {enc['stored']:.8g}  ({enc['flag']})", ha="left", va="center",
                fontsize=8)
    for i, (field, colour) in enumerate(FIELD_COLORS.items()):
        ax.text(0.08 + 0.2 * i, len(FORMATS) + 0.05, field, color=colour, fontsize=9, weight="bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.4, len(FORMATS) + 0.35)
    ax.axis("off")
    ax.set_title(f"bits of {state['value']:.6g} (sign | exponent | mantissa)")


def _box(x, y, width, colour):
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    return Rectangle((x, y + 0.1), width * 0.92, 0.5, color=colour)


def draw_formats(state: dict, fig=None):
    """Draw the explorer's state: bit fields (left), relative error against |x| (right).

    Args:
        state: what :func:`explore` returned.
        fig: a matplotlib Figure to draw into (default: a new one, made without pyplot).

    Returns:
        The Figure.
    """
    if fig is None:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(10.5, 3.6), dpi=80)
    ax_bits = fig.add_axes((0.01, 0.05, 0.46, 0.82))
    ax = fig.add_axes((0.56, 0.15, 0.42, 0.72))
    _draw_bits(ax_bits, state)
    for (name, _), colour in zip(FORMATS.items(), PALETTE):
        x, rel = relative_error_curve(name)
        ax.loglog(x, np.where(np.isinf(rel), np.nan, rel), color=colour, lw=1.2, label=name)
        if np.isinf(rel).any():                          # where the format overflows to inf
            ax.axvline(x[np.argmax(np.isinf(rel))], color=colour, lw=0.8, ls="-.")
    value = abs(state["value"])
    if 0 < value < math.inf:
        ax.axvline(value, color="black", ls="--", lw=1, label="your value")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.text(1e-44, 1.6, "100%: underflow to 0", fontsize=7, color="grey")
    ax.set(xlabel="|x| (log scale)", ylabel="relative rounding error (log scale)",
           title="Largest rounding error near |x|", ylim=(1e-12, 10))
    ax.legend(fontsize=8, loc="lower left")
    return fig


def _sentences(state: dict) -> str:
    lines = [f"value <b>{state['value']:.6g}</b>"]
    for name, enc in state["formats"].items():
        bits = f"<code>{enc['sign']} {enc['exponent']} {enc['mantissa']}</code>"
        flag = enc["flag"]
        if flag in ("overflow to inf", "underflow to 0"):
            flag = f"<b style='color:{PALETTE[3]}'>{flag}</b>"
        elif flag == "subnormal":
            flag = f"<b>{flag}</b> (precision lost)"
        lines.append(f"<b>{name}</b> {bits} stores {enc['stored']:.8g}; relative error "
                     f"{enc['rel_error']:.2g}; {flag}")
    return "<br>".join(lines)


class NumberFormatExplorer(widgets.VBox):
    """Controls for a value ``mantissa * 10**power``; its bits and errors in three formats.

    Attributes:
        controls: ``"mantissa"`` (FloatSlider, -9.999 to 9.999) and ``"power"`` (IntSlider,
            -46 to 39: from below float32's smallest subnormal to beyond its largest value).
        label: ``HTML`` widget with one line per format.
        image: ``Image`` widget with the PNG of :func:`draw_formats`.
        state: the current result of :func:`explore`.
    """

    def __init__(self, *, mantissa: float = 1.0, power: int = -1):
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="360px")
        self.controls = {
            "mantissa": widgets.FloatSlider(value=mantissa, min=-9.999, max=9.999, step=0.001,
                                            description="mantissa", readout_format=".3f",
                                            continuous_update=False, style=style, layout=layout),
            "power": widgets.IntSlider(value=power, min=POWER_RANGE[0], max=POWER_RANGE[1],
                                       description="× 10^", continuous_update=False, style=style,
                                       layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.label]),
                          self.image])
        for control in self.controls.values():
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        """Encode the current value; refresh state, label and figure."""
        self.state = explore(self.controls["mantissa"].value, self.controls["power"].value)
        self.label.value = _sentences(self.state)
        fig = draw_formats(self.state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()


def number_format_explorer(*, mantissa: float = 1.0, power: int = -1) -> NumberFormatExplorer:
    """Explore how ``mantissa * 10**power`` is stored in float32, float16 and bfloat16.

    Returns:
        A :class:`NumberFormatExplorer` (an ``ipywidgets.VBox``). Display it in a notebook,
        or set ``.controls[...]`` values and read ``.state`` without one.
    """
    return NumberFormatExplorer(mantissa=mantissa, power=power)
