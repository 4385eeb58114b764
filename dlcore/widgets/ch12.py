"""Chapter 12 explorer: a 2-D GAN on a ring of 8 Gaussians, one training click at a time.

In the spirit of GAN Lab. Pick a setting, click *step* to train for the chosen number of
steps (one discriminator update and, per setting, one or more generator updates each), and
watch the real points, the generated points and the discriminator's decision surface (its
probability that a point is real). The explorer counts the modes the generator covers (a
mode is covered when at least 2% of 2,000 generated points lie within 3 sigma of it, see
:func:`dlcore.torch.generative.mode_coverage`) and flags **mode collapse** when the
generated points sit on modes but miss some, when they bunch into one clump away from the
ring's centre (:func:`is_clump`: a collapsed generator's clump can sit between modes,
covering none), or when the ring was covered and coverage then fell by two modes or more. Controls and results are attributes, which is how
``tests/test_widgets_ch12.py`` drives it::

    stepper = gan_stepper()
    stepper.controls["steps"].value = 100
    stepper.controls["step"].click()
    stepper.state["covered"], stepper.state["flag"]
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE

__all__ = ["SETTINGS", "coverage_flag", "draw_ring", "gan_stepper", "is_clump"]

#: The explorer's settings: keyword arguments of :class:`dlcore.torch.generative.RingGAN`.
SETTINGS = {
    "balanced (1 G step per D step)": {"g_steps": 1},
    "G overtrained (5 G steps per D step)": {"g_steps": 5},
    "G overtrained + minibatch std in D": {"g_steps": 5, "minibatch_std": True},
}
#: Coverage below this many of the 8 modes, with points on the modes, is flagged.
GOOD_COVERAGE = 7
#: Fraction of generated points near some mode above which the generator "has found modes".
ON_MODES = 0.3
#: A clump: per-axis spread below this fraction of the radius (the ring's own is 0.71) ...
CLUMP_SPREAD = 0.25
#: ... with its centre further than this fraction of the radius from the ring's centre.
CLUMP_OFFSET = 0.5


def is_clump(points, radius: float = 2.0) -> bool:
    """Whether the ``(N, 2)`` points bunch into one clump away from the ring's centre.

    True when their mean per-axis standard deviation is below ``CLUMP_SPREAD * radius``
    and their mean lies more than ``CLUMP_OFFSET * radius`` from the origin. Points spread
    round the ring (spread about ``0.71 * radius``, mean near 0) and an untrained generator's
    blob at the origin are not clumps.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) < 2:
        return False
    return bool(p.std(axis=0).mean() < CLUMP_SPREAD * radius
                and np.linalg.norm(p.mean(axis=0)) > CLUMP_OFFSET * radius)


def coverage_flag(covered: int, on_modes: float, best: int, k: int = 8,
                  clumped: bool = False) -> str:
    """The explorer's verdict: ``"mode collapse"``, ``"not on the modes yet"`` or ``"covers the ring"``.

    ``covered``: modes covered now; ``on_modes``: fraction of generated points near any
    mode; ``best``: the most modes covered so far in this run; ``clumped``: the generated
    points form one clump off the centre (:func:`is_clump`).
    """
    good = min(GOOD_COVERAGE, k)
    if covered >= good:
        return "covers the ring"
    if on_modes >= ON_MODES or clumped or (best >= good and best - covered >= 2):
        return "mode collapse"
    return "not on the modes yet"


def draw_ring(gan, fig=None, lim: float = 3.0, title: str | None = None, ax=None):
    """Draw D's decision surface, real and generated points of a ``RingGAN`` on ``ax``
    (default: a new axes on ``fig``, or on a new figure); returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig = fig or plt.figure(figsize=(4.6, 4.2))
        ax = fig.add_subplot(1, 1, 1)
    fig = ax.figure
    xs, ys, p = gan.decision_surface(lim=lim, n=60)
    cs = ax.contourf(xs, ys, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    fig.colorbar(cs, ax=ax, label="D(x): probability real")
    real = gan.real(500).numpy()
    fake = gan.samples(500)
    ax.scatter(real[:, 0], real[:, 1], s=4, color=PALETTE[2], label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, color=PALETTE[1], label="generated")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
           title=title or f"step {gan.step_count}")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7, markerscale=3)
    return fig


def _png(gan, title) -> bytes:
    # A bare Figure draws itself with Agg; never call matplotlib.use() here, which would
    # switch pyplot away from the notebook's inline backend and hide every later figure.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 4.2))
    draw_ring(gan, fig=fig, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70)
    return buf.getvalue()


def gan_stepper(seed: int = 0, *, hidden: int = 128, max_steps: int = 500,
                setting: str | None = None) -> widgets.VBox:
    """The explorer. ``hidden`` is the width of both networks (smaller is faster)."""
    from dlcore.torch.generative import RingGAN

    names = list(SETTINGS)
    choice = widgets.Dropdown(options=names, value=setting or names[0], description="setting",
                              layout=widgets.Layout(width="420px"))
    steps = widgets.IntSlider(value=min(100, max_steps), min=1, max=max_steps,
                              description="steps/click")
    step = widgets.Button(description="step")
    reset = widgets.Button(description="reset")
    info = widgets.HTML()
    picture = widgets.Image(format="png")
    box = widgets.VBox([choice, widgets.HBox([steps, step, reset]), info, picture])
    box.controls = {"setting": choice, "steps": steps, "step": step, "reset": reset}
    box.state = {}
    run = {}

    def new_run(_=None):
        run["gan"] = RingGAN(seed=seed, hidden=hidden, sigma=0.1, **SETTINGS[choice.value])
        run["best"] = 0
        show()

    def show():
        gan = run["gan"]
        covered, fractions, on_modes = gan.coverage()
        run["best"] = max(run["best"], covered)
        clumped = is_clump(gan.samples(), gan.radius)
        flag = coverage_flag(covered, on_modes, run["best"], gan.k, clumped)
        colour = {"mode collapse": "#D55E00", "covers the ring": "#009E73"}.get(flag, "#555")
        d_loss = gan.history["d_loss"][-1] if gan.history["d_loss"] else float("nan")
        info.value = (f"step {gan.step_count}: <b>{covered} of {gan.k} modes covered</b>, "
                      f"{on_modes:.0%} of generated points on a mode, D loss "
                      f"{'not yet measured' if np.isnan(d_loss) else f'{d_loss:.3f}'} "
                      f"&mdash; <b style='color:{colour}'>{flag}</b>")
        picture.value = _png(gan, f"{choice.value.split(' (')[0]}, step {gan.step_count}")
        box.state.update(step=gan.step_count, covered=covered, fractions=fractions,
                         on_modes=on_modes, best=run["best"], clumped=clumped, flag=flag,
                         d_loss=d_loss, setting=choice.value)

    def do_step(_=None):
        run["gan"].step(steps.value)
        show()

    choice.observe(new_run, names="value")
    step.on_click(do_step)
    reset.on_click(new_run)
    new_run()
    return box
