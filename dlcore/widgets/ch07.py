"""Chapter 07 explorer: model capacity, L2 strength and training-set size, seen together.

Introduced in chapter 07 ("Generalisation"). The model is a polynomial of degree ``d``
in one input, fitted by ridge regression (least squares with an L2 penalty):

    minimise over w:   || Phi w - y ||^2 + lam * || w ||^2,
    solution:          w = (Phi^T Phi + lam I)^(-1) Phi^T y,

where ``Phi`` (n, d + 1) holds the polynomial features of the n training inputs. The
features are Legendre polynomials P_0 .. P_d of x in [-1, 1], which span exactly the
same functions as 1, x, ..., x^d but stay well conditioned at high degree.

Three sliders set the degree (capacity), log10 of ``lam`` (regularisation) and how
many training points are used. The figure shows the data and the fitted curve, and
the training and validation errors for every degree at the current ``lam`` and size:
the classic U-shaped validation curve.

The explorer is an ordinary ``ipywidgets.VBox`` whose controls and results are
attributes, which is how ``tests/test_widgets_ch07.py`` drives it without a browser::

    explorer = capacity_explorer(x_train, y_train, x_val, y_val)
    explorer.controls["degree"].value = 12
    explorer.state["val_mse"]
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE

#: A mean squared error below this fraction of the targets' mean square is zero up to
#: floating-point round-off (an interpolating fit gives about 1e-30): shown as "~0" and
#: drawn at this floor, so the log axis shows the curves and not the round-off.
ROUND_OFF = 1e-12


def poly_features(x, degree: int) -> np.ndarray:
    """Legendre features P_0(x) .. P_degree(x).  x: (n,) in [-1, 1] -> Phi: (n, degree + 1)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"poly_features expects x of shape (n,), got {x.shape}")
    if int(degree) < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    return np.polynomial.legendre.legvander(x, int(degree))


def ridge_fit(Phi, y, lam: float) -> np.ndarray:
    """Weights minimising ``||Phi w - y||^2 + lam ||w||^2``.  Phi: (n, D), y: (n,) -> w: (D,).

    Solved as ordinary least squares on ``Phi`` stacked over ``sqrt(lam) I`` (and ``y``
    over zeros), which is the same problem written without forming ``Phi^T Phi``; with
    ``lam = 0`` it is plain least squares (the minimum-norm solution when D > n).
    """
    Phi, y = np.asarray(Phi, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    D = Phi.shape[1]
    A = np.vstack([Phi, np.sqrt(lam) * np.eye(D)])
    b = np.concatenate([y, np.zeros(D)])
    return np.linalg.lstsq(A, b, rcond=None)[0]


def mse(prediction, target) -> float:
    """Mean squared error of two arrays of the same shape."""
    return float(np.mean((np.asarray(prediction) - np.asarray(target)) ** 2))


def error_curves(x_train, y_train, x_val, y_val, degrees, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation MSE of the ridge polynomial fit, for each degree.

    Returns:
        ``(train_mse, val_mse)``, each of shape ``(len(degrees),)``.
    """
    train, val = [], []
    for d in degrees:
        w = ridge_fit(poly_features(x_train, d), y_train, lam)
        train.append(mse(poly_features(x_train, d) @ w, y_train))
        val.append(mse(poly_features(x_val, d) @ w, y_val))
    return np.array(train), np.array(val)


class CapacityExplorer(widgets.VBox):
    """Sliders for degree, log10(lam) and training-set size; the fit and the error curves.

    Attributes:
        controls: dict of the control widgets: ``"degree"`` (IntSlider), ``"log10_lam"``
            (FloatSlider; the leftmost position means no penalty, ``lam = 0``) and
            ``"n_train"`` (IntSlider: the first n training points are used).
        label: ``HTML`` widget with the two errors.
        image: ``Image`` widget with the PNG of the figure.
        state: the current result, a dict with ``degree``, ``lam``, ``n_train``, ``coef``
            (degree + 1,), ``train_mse``, ``val_mse``, ``degrees`` (all degrees shown),
            ``train_curve`` and ``val_curve`` (MSE per degree), ``grid_x`` and ``fit_y``
            (the fitted curve on a grid).
    """

    #: The leftmost position of the log10(lam) slider stands for lam = 0.
    NO_PENALTY = -10.0

    def __init__(self, x_train, y_train, x_val, y_val, *, f_true=None, max_degree: int = 15,
                 degree: int = 3, log10_lam: float = NO_PENALTY, n_train: int | None = None):
        self.x_train, self.y_train = self._as_1d(x_train, "x_train"), self._as_1d(y_train, "y_train")
        self.x_val, self.y_val = self._as_1d(x_val, "x_val"), self._as_1d(y_val, "y_val")
        if len(self.x_train) != len(self.y_train) or len(self.x_val) != len(self.y_val):
            raise ValueError("capacity_explorer expects x and y arrays of the same length")
        if len(self.x_train) < 2:
            raise ValueError("capacity_explorer needs at least 2 training points")
        self.f_true = f_true
        self.degrees = np.arange(int(max_degree) + 1)
        style = {"description_width": "150px"}             # wide enough for every description
        layout = widgets.Layout(width="440px")
        n_max = len(self.x_train)
        self.controls = {
            "degree": widgets.IntSlider(value=int(degree), min=0, max=int(max_degree),
                                        description="degree", continuous_update=False,
                                        style=style, layout=layout),
            "log10_lam": widgets.FloatSlider(value=float(log10_lam), min=self.NO_PENALTY, max=2.0,
                                             step=0.5, description="log10(L2 strength)",
                                             continuous_update=False, style=style, layout=layout),
            "n_train": widgets.IntSlider(value=n_max if n_train is None else int(n_train),
                                         min=2, max=n_max, description="training points",
                                         continuous_update=False, style=style, layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.label]),
                          self.image])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()

    @staticmethod
    def _as_1d(values, name: str) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"capacity_explorer expects {name} of shape (n,), got {values.shape}")
        return values

    @property
    def lam(self) -> float:
        """The L2 strength the slider stands for (0 at its leftmost position)."""
        value = self.controls["log10_lam"].value
        return 0.0 if value <= self.NO_PENALTY else float(10.0 ** value)

    def _on_change(self, change) -> None:
        self.update()

    def update(self) -> None:
        """Refit with the current settings; refresh state, label and figure."""
        degree, n, lam = self.controls["degree"].value, self.controls["n_train"].value, self.lam
        x, y = self.x_train[:n], self.y_train[:n]
        coef = ridge_fit(poly_features(x, degree), y, lam)
        train_curve, val_curve = error_curves(x, y, self.x_val, self.y_val, self.degrees, lam)
        grid_x = np.linspace(-1, 1, 300)
        self.state = {
            "degree": int(degree), "lam": lam, "n_train": int(n), "coef": coef,
            "train_mse": mse(poly_features(x, degree) @ coef, y),
            "val_mse": mse(poly_features(self.x_val, degree) @ coef, self.y_val),
            "degrees": self.degrees, "train_curve": train_curve, "val_curve": val_curve,
            "grid_x": grid_x, "fit_y": poly_features(grid_x, degree) @ coef,
        }
        s = self.state
        s["floor"] = ROUND_OFF * max(float(np.mean(y**2)), 1e-300)
        s["train_is_round_off"] = s["train_mse"] < s["floor"]
        s["interpolating"] = lam == 0.0 and degree + 1 >= n
        best = int(self.degrees[np.argmin(val_curve)])
        # Only an unpenalised fit's tiny error is round-off; with lam > 0 it is a real, tiny residual.
        train_text = (f"~0 (round-off, {s['train_mse']:.1e})" if s["train_is_round_off"] and lam == 0.0
                      else f"~0 ({s['train_mse']:.1e}, below {ROUND_OFF:g} x mean y²)"
                      if s["train_is_round_off"] else f"{s['train_mse']:.3g}")
        flag = ""
        if s["interpolating"]:
            flag = (f"<br><b>Interpolating</b>: {degree + 1} parameters for {n} points, so the fit passes "
                    f"through every training point" + (" (the interpolation threshold, where double descent "
                                                        "usually peaks)."
                                                        if degree + 1 == n else "; least squares returns "
                                                        "the minimum-norm fit."))
        self.label.value = (f"Degree <b>{degree}</b>, L2 strength <b>{lam:.3g}</b>, "
                            f"<b>{n}</b> training points.<br>Training MSE <b>{train_text}</b>, "
                            f"validation MSE <b>{s['val_mse']:.3g}</b>.<br>Lowest validation "
                            f"error at these settings: degree {best}." + flag)
        self.image.value = self._render_png()

    def _render_png(self) -> bytes:
        """The figure of :meth:`figure`, as PNG bytes."""
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png")
        return buffer.getvalue()

    def figure(self):
        """The data and fit on the left, error per degree (log scale) on the right."""
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        s = self.state
        fig = Figure(figsize=(9.6, 3.8), dpi=80)
        ax = fig.add_axes((0.07, 0.14, 0.42, 0.76))               # fixed positions: no layout engine
        ax_err = fig.add_axes((0.58, 0.14, 0.39, 0.76))
        ax.plot(self.x_val, self.y_val, ".", color="0.75", ms=3, label="validation points")
        ax.plot(self.x_train[:s["n_train"]], self.y_train[:s["n_train"]], "o", color=PALETTE[0],
                ms=5, label="training points")
        if self.f_true is not None:
            ax.plot(s["grid_x"], self.f_true(s["grid_x"]), "--", color="black", lw=1, label="true function")
        ax.plot(s["grid_x"], s["fit_y"], color=PALETTE[3], lw=2, label=f"degree-{s['degree']} fit")
        low, high = np.percentile(np.concatenate([self.y_train, self.y_val]), [0, 100])
        pad = 0.3 * (high - low)
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("the data and the fitted polynomial")
        ax.legend(loc="lower left", fontsize=8)
        from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

        ax_err.semilogy(s["degrees"], np.maximum(s["train_curve"], s["floor"]), "-o", ms=3,
                        color=PALETTE[0], label=f"training (floor {ROUND_OFF:g} x mean y²: round-off)")
        ax_err.semilogy(s["degrees"], s["val_curve"], "-o", ms=3, color=PALETTE[1], label="validation")
        ax_err.axvline(s["degree"], color="0.4", ls=":", lw=1)
        if s["lam"] == 0.0 and s["n_train"] - 1 <= s["degrees"][-1]:
            ax_err.axvline(s["n_train"] - 1, color=PALETTE[3], ls="--", lw=1,
                           label="d + 1 = n (interpolation)")
        ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_err.set_xlabel("polynomial degree (capacity)")
        ax_err.set_ylabel("mean squared error (log scale)")
        ax_err.set_title(f"error against degree (L2 {s['lam']:.2g}, n = {s['n_train']})")
        ax_err.legend(fontsize=8)
        ax_err.grid(alpha=0.3)
        return fig


def capacity_explorer(x_train, y_train, x_val, y_val, *, f_true=None, max_degree: int = 15,
                      degree: int = 3, log10_lam: float = CapacityExplorer.NO_PENALTY,
                      n_train: int | None = None) -> CapacityExplorer:
    """Explore under- and overfitting of a polynomial fit with an L2 penalty.

    Args:
        x_train, y_train: training inputs in [-1, 1] and targets, shape (n,). The
            ``n_train`` slider uses the first n of them, so pass them shuffled.
        x_val, y_val: validation inputs and targets, shape (m,).
        f_true: optional function of x to draw as the truth (for synthetic data).
        max_degree: the largest degree offered.
        degree, log10_lam, n_train: starting settings (``log10_lam`` at
            ``CapacityExplorer.NO_PENALTY`` means no penalty; ``n_train`` default: all).

    Returns:
        A :class:`CapacityExplorer` (an ``ipywidgets.VBox``). Display it in a notebook,
        or set ``.controls[...]`` values and read ``.state`` without one.
    """
    return CapacityExplorer(x_train, y_train, x_val, y_val, f_true=f_true, max_degree=max_degree,
                            degree=degree, log10_lam=log10_lam, n_train=n_train)
