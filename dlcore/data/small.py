"""Small real datasets that ship inside installed packages, so they never need the network.

* :func:`load_digits` -- chapter 01: scikit-learn's 8x8 handwritten digits.
* :func:`load_co2` -- chapter 02: weekly Mauna Loa CO2 (statsmodels).
* :func:`load_sunspots` -- yearly sunspot numbers (statsmodels), for forecasting.
* :func:`load_names` -- US first names (the ``names`` package), for the
  character-level language model.

scikit-learn and statsmodels are imported inside the functions, so
``import dlcore.data`` stays fast.
"""

from __future__ import annotations

import numpy as np

from .base import Dataset, NameList, TimeSeries, _float_dtype, _package_file, _say


def load_digits(*, flatten: bool = False, dtype=np.float32, verbose: bool = True) -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8x8 pixels, scaled to [0, 1].

    The original pixel values are counts 0..16 (of a 4x4 block of a 32x32 bitmap);
    they are divided by 16.

    Returns:
        Dataset with ``X`` ``(1797, 1, 8, 8)`` or, with ``flatten=True``, ``(1797, 64)``;
        ``y`` ``(1797,)`` int64 in 0..9; ``classes`` ``("0", ..., "9")``.
    """
    from sklearn.datasets import load_digits as sk_load_digits  # noqa: PLC0415 (lazy: slow import)

    bunch = sk_load_digits()
    X = bunch.images.astype(_float_dtype(dtype))[:, None, :, :] / 16
    if flatten:
        X = X.reshape(len(X), -1)
    y = bunch.target.astype(np.int64)
    message = f"Digits: scikit-learn's bundled 8x8 handwritten digits, {len(y):,} images (no download needed)"
    _say(message, verbose)
    return Dataset("digits", X, y, tuple(str(d) for d in range(10)), "scikit-learn (bundled)", message)


def load_names(*, verbose: bool = True) -> NameList:
    """US first names, lowercase, most common first (for the character-level language model).

    Read directly from the data files of the ``names`` package
    (``dist.female.first`` and ``dist.male.first``, derived from the 1990 US
    Census). A name in both lists appears once, at its higher frequency. Last
    names are not included.

    Returns:
        NameList (a ``list[str]``) of 5,163 names such as ``"mary"``, ``"james"``.
    """
    frequency: dict[str, float] = {}
    for filename in ("dist.female.first", "dist.male.first"):
        with open(_package_file("names", filename), encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if len(fields) != 4:
                    continue
                name, percent = fields[0].lower(), float(fields[1])
                frequency[name] = max(percent, frequency.get(name, 0.0))
    names = sorted(frequency, key=lambda n: (-frequency[n], n))
    message = (f"Names: {len(names):,} US first names from the 'names' package "
               "(1990 Census lists, lowercase; no download needed)")
    _say(message, verbose)
    return NameList(names, source="names package (dist.female.first, dist.male.first)", message=message)


def load_sunspots(*, verbose: bool = True) -> TimeSeries:
    """Yearly mean sunspot numbers, 1700-2008, from statsmodels' bundled datasets.

    Returns:
        TimeSeries with ``t`` ``(309,)`` years (1700.0 ... 2008.0) and ``y`` ``(309,)``
        float64 sunspot numbers (>= 0).
    """
    from statsmodels.datasets import sunspots  # noqa: PLC0415 (lazy: slow import)

    frame = sunspots.load_pandas().data
    t = frame["YEAR"].to_numpy(dtype=np.float64)
    y = frame["SUNACTIVITY"].to_numpy(dtype=np.float64)
    message = (f"Sunspots: statsmodels' bundled yearly sunspot numbers {t[0]:.0f}-{t[-1]:.0f}, "
               f"{len(y):,} years (no download needed)")
    _say(message, verbose)
    dates = np.array([f"{int(year)}-07-01" for year in t], dtype="datetime64[D]")
    return TimeSeries("sunspots", t, y, "sunspot number", "statsmodels (bundled)", message, dates)


def load_co2(*, missing: str = "interpolate", verbose: bool = True) -> TimeSeries:
    """Weekly atmospheric CO2 at Mauna Loa, March 1958 - December 2001 (statsmodels).

    Args:
        missing: what to do with the 59 weeks without a measurement:
            ``"interpolate"`` (linear in time, the default), ``"drop"``, or
            ``"keep"`` (leave NaN).

    Returns:
        TimeSeries with ``t`` ``(T,)`` decimal years, ``y`` ``(T,)`` float64 in ppm and
        ``dates`` ``(T,)`` datetime64[D]; T is 2,284 (2,225 with ``missing="drop"``).
    """
    if missing not in ("interpolate", "drop", "keep"):
        raise ValueError(f"missing must be 'interpolate', 'drop' or 'keep', got {missing!r}")
    from statsmodels.datasets import co2  # noqa: PLC0415 (lazy: slow import)

    frame = co2.load_pandas().data
    dates = frame.index.to_numpy().astype("datetime64[D]")
    y = frame["co2"].to_numpy(dtype=np.float64)
    t = _decimal_years(dates)
    gaps = np.isnan(y)
    if missing == "interpolate":
        y = y.copy()
        y[gaps] = np.interp(t[gaps], t[~gaps], y[~gaps])
        note = f"{gaps.sum()} missing weeks interpolated"
    elif missing == "drop":
        t, y, dates = t[~gaps], y[~gaps], dates[~gaps]
        note = f"{gaps.sum()} missing weeks dropped"
    else:
        note = f"{gaps.sum()} missing weeks left as NaN"
    message = (f"CO2: statsmodels' bundled weekly Mauna Loa CO2 1958-2001, {len(y):,} weeks "
               f"({note}; no download needed)")
    _say(message, verbose)
    return TimeSeries("Mauna Loa CO2", t, y, "ppm", "statsmodels (bundled)", message, dates)


def _decimal_years(dates: np.ndarray) -> np.ndarray:
    """datetime64[D] ``(T,)`` -> decimal years ``(T,)``, e.g. 1958-07-02 -> about 1958.5."""
    years = dates.astype("datetime64[Y]")
    start = years.astype("datetime64[D]")
    length = (years + 1).astype("datetime64[D]") - start
    return years.astype(np.int64) + 1970 + (dates - start) / length
