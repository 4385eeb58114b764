"""Checkers for the chapter 12 exercises ("Autoencoders, VAEs and GANs").

Used in ``exercises/12_generative.ipynb``::

    from dlcore.exercises import ch12 as check
    check.ex1(gan_losses)

* :func:`ex1` -- ``gan_losses(real_logits, fake_logits) -> (d_loss, g_loss)``: the
  discriminator's loss (real labelled 1, fake labelled 0, each term a mean over its batch) and
  the non-saturating generator loss, from logits, checked against
  ``F.binary_cross_entropy_with_logits`` up to logits of size 1000, and by their gradients.
* :func:`ex2` -- ``reparameterize(mu, logvar, eps) -> z = mu + exp(logvar / 2) * eps``, with
  gradients reaching ``mu`` and ``logvar``.
* :func:`ex3` -- ``kl_to_standard_normal(mu, logvar) -> scalar``: KL(N(mu, diag exp(logvar)) ||
  N(0, I)), summed over the latent dimensions and averaged over the batch, with gradients.
* :func:`ex4` -- ``frechet_distance(mu1, S1, mu2, S2) -> float``: the squared Fréchet distance
  between two Gaussians (the quantity FID reports), checked against closed forms and an
  eigenvalue reference.
* :func:`ex5` -- ``modes_covered(samples, radius, sigma, n_modes, min_fraction) -> int``: how
  many modes of a ring of Gaussians hold at least ``min_fraction`` of the samples within
  ``3 sigma`` of their centre.

Each checker varies every argument (batch sizes, shapes, dtypes, magnitudes, radii, numbers of
modes, thresholds) and names the usual mistakes: the minimax generator loss, swapped labels, a
sum for a mean, an unstable ``log(sigmoid)``; ``logvar`` taken for the standard deviation or the
variance; a missing 1/2, a mean over the latent dimensions; a forgotten cross term, an
elementwise square root, ``tr(S1 S2)`` without a root; a hard-coded number of modes or
threshold, a squared distance compared with ``3 sigma``. None of them raises.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

# scipy.linalg is loaded here, so an answer that imports it inside its function (the
# usual way to take sqrtm) is not timed out on its first call.
from scipy import linalg as _scipy_linalg

from ._core import CheckFailure, _describe_student_error, _pair_text, _StudentError, call, checker, expect

# ---- shared helpers ----------------------------------------------------------------------------


def _tensor(value, name: str, hint: str = "Return a torch tensor.") -> torch.Tensor:
    """A CPU tensor (detached) from a tensor or an array-like, or a CheckFailure naming what came back."""
    expect(value is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    if isinstance(value, torch.Tensor):
        expect(not value.is_meta, f"{name} returned a tensor on the meta device, which has a shape but no values.", "Create tensors on the CPU (or the inputs' device), not with device=\"meta\".")
        t = value.detach().cpu()
    else:
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001  (any odd object becomes feedback)
            arr = None
        ok = arr is not None and arr.dtype != object and (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        expect(ok, f"{name} returned a {type(value).__name__}, not a tensor or an array.", hint)
        t = torch.as_tensor(arr)
    expect(not t.is_complex(), f"{name} returned complex numbers.", "Look for the square root or log of a "
           "negative number.")
    return t


def _number(value, name: str, hint: str) -> tuple[float, bool]:
    """``(value as a float, low_precision)`` from a Python, NumPy or torch scalar; else a CheckFailure."""
    expect(value is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    expect(not isinstance(value, (bool, np.bool_)), f"{name} returned a bool, not a number.", hint)
    if isinstance(value, numbers.Real):
        expect(not isinstance(value, int) or abs(value) < 2**63, f"{name} returned a whole number with "
               f"{len(str(abs(value)))} digits.", hint)
        low = isinstance(value, np.floating) and np.finfo(value.dtype).bits < 64
        if isinstance(value, np.floating):
            expect(value.dtype != np.float16, f"{name} returned a float16 number, which keeps only about 3 "
                   "significant digits.", "Compute in float32 or float64.")
        return float(value), bool(low)
    t = _tensor(value, name, hint)
    expect(t.numel() == 1, f"{name} returned {'a tensor' if isinstance(value, torch.Tensor) else 'an array'} "
           f"of shape {tuple(t.shape)}, not a single number.", hint)
    expect(t.dtype != torch.bool, f"{name} returned a bool, not a number.", hint)
    expect(t.dtype not in (torch.float16, torch.bfloat16), f"{name} returned {t.dtype}, which keeps only "
           "2 or 3 significant digits.", "Compute in float32 or float64.")
    low = t.is_floating_point() and t.dtype != torch.float64
    return float(t.reshape(()).to(torch.float64).item()), bool(low)


def _close(got: float, want: float, low: bool, scale: float = 1.0) -> bool:
    """``got`` matches ``want`` to float32 (``low``) or float64 accuracy, relative to ``scale``."""
    if not math.isfinite(got):
        return got == want
    tol = 1e-5 if low else 1e-8
    return abs(got - want) <= tol * max(abs(want), scale, 1.0)


def _tensors_close(got: torch.Tensor, want: torch.Tensor, low: bool = False) -> bool:
    """Equal to float64 accuracy when both are float64 (and not ``low``), else to float32's."""
    if tuple(got.shape) != tuple(want.shape):
        return False
    tol = 1e-9 if got.dtype == want.dtype == torch.float64 and not low else 1e-5
    g, w = got.to(torch.float64), want.to(torch.float64)
    return bool(torch.isfinite(g).all()) and torch.allclose(g, w, rtol=tol, atol=tol)


def _grads(fn, name: str, inputs: dict, extra: tuple = ()):
    """Call ``fn`` on leaf tensors that require grad; return (output, leaves), explaining failures."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    try:
        out = call(fn, *leaves.values(), *extra)
    except _StudentError as err:
        message, hint = _describe_student_error(err.original, err.timeout)
        message = message[:1].lower() + message[1:]
        raise CheckFailure(f"the values are right, but with inputs that require grad (as in training) {message}",
                           hint or "Compute with torch operations on the tensors themselves: no .numpy(), "
                           ".item() or in-place changes of the inputs.") from None
    return out, leaves


def _require_graph(value, name: str, what: str) -> torch.Tensor:
    expect(isinstance(value, torch.Tensor) and value.requires_grad,
           f"{name} returned {what} that carries no gradient, so autograd could not train with it.",
           "Keep everything a torch tensor computed from the inputs: no .item(), float(), .numpy(), "
           ".detach() or torch.no_grad().")
    return value


def _grad_of(output: torch.Tensor, leaf: torch.Tensor, weight=None):
    grad = torch.autograd.grad(output, leaf, grad_outputs=weight, retain_graph=True, allow_unused=True)[0]
    return None if grad is None else grad.detach()


def _unchanged(given, originals, labels, name: str) -> None:
    for label, a, b in zip(labels, given, originals):
        expect(torch.equal(a, b), f"{name} changed its argument {label} in place.",
               "Compute new tensors (z = mu + ...); do not write into the arguments (no +=, mul_, "
               "clamp_ or [...] =).")


# ---- exercise 1: the GAN losses from logits ---------------------------------------------------

_PAIR_HINT = "Return a pair: `return d_loss, g_loss`, each a scalar tensor (a mean over the batch)."


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _gan_losses_reference(real_logits, fake_logits):
    """The model answer of exercise 1."""
    d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
    g_loss = _bce(fake_logits, 1.0)
    return d_loss, g_loss


def _gan_cases():
    """(what, real, fake, extreme): batch sizes, shapes, dtypes and magnitudes."""
    g = torch.Generator().manual_seed(12)

    def randn(*shape, dtype, scale):
        return torch.randn(*shape, generator=g, dtype=torch.float64).mul(scale).to(dtype)

    cases = [
        ("5 real and 12 fake logits (float32)", randn(5, dtype=torch.float32, scale=3) + 1,
         randn(12, dtype=torch.float32, scale=3) - 1, False),
        ("8 real and 8 fake logits (float64)", randn(8, dtype=torch.float64, scale=2),
         randn(8, dtype=torch.float64, scale=2), False),
        ("logits of shape (16, 1), as a Linear(.., 1) gives them (float32)",
         randn(16, 1, dtype=torch.float32, scale=1.5), randn(16, 1, dtype=torch.float32, scale=1.5), False),
        ("a confident discriminator: 3 real logits near +9, 7 fake near -9 (float64)",
         randn(3, dtype=torch.float64, scale=1) + 9, randn(7, dtype=torch.float64, scale=1) - 9, False),
        ("logits of size 100 (float32)", torch.tensor([-100.0, 3.0, 100.0, -20.0]),
         torch.tensor([100.0, -100.0, 60.0, 0.5, -3.0, 20.0]), True),
        ("logits of size 1000 (float64)", torch.tensor([-1000.0, 2.0, 1000.0], dtype=torch.float64),
         torch.tensor([1000.0, -1000.0, 45.0, -0.25], dtype=torch.float64), True),
    ]
    return cases


def _gan_candidates(r, f):
    """(mistake, d_loss, g_loss) for the usual mistakes; None where a mistake says nothing of one loss."""
    r64, f64 = r.to(torch.float64), f.to(torch.float64)
    d_real, d_fake = F.softplus(-r64).mean(), F.softplus(f64).mean()
    d, minimax = float(d_real + d_fake), float(-F.softplus(f64).mean())
    both = torch.cat([F.softplus(-r64).reshape(-1), F.softplus(f64).reshape(-1)])
    return [
        ("the generator loss is the minimax one, mean log(1 - D(G(z))), which saturates (its gradient "
         "vanishes) when D rejects the fakes: use the non-saturating -mean log D(G(z)), that is BCE with "
         "label 1 for the fakes.", None, minimax),
        ("the generator loss is minus the discriminator loss (the zero-sum minimax game): its gradient "
         "vanishes when D rejects the fakes; use -mean log D(G(z)).", None, -d),
        ("the generator loss labels the fakes 0, as the discriminator does: that teaches G to look fake. "
         "G wants D to call its samples real, label 1.", None, float(F.softplus(f64).mean())),
        ("the generator loss is computed on the real logits; it depends on the fakes only.", None,
         float(F.softplus(-r64).mean())),
        ("the labels are swapped: real samples are labelled 1 and fakes 0.",
         float(F.softplus(r64).mean() + F.softplus(-f64).mean()), None),
        ("the losses are sums over the batch, not means.", float(F.softplus(-r64).sum() + F.softplus(f64).sum()),
         float(F.softplus(-f64).sum())),
        ("the two terms of the discriminator loss are averaged; the contract is their sum, one mean "
         "over the real batch plus one over the fake batch.", d / 2, None),
        ("the discriminator loss is one mean over the real and fake logits together; the contract is a "
         "mean over each batch, added.", float(both.mean()), None),
        ("the discriminator loss has only the real term, mean -log D(x); add mean -log(1 - D(G(z))).",
         float(d_real), None),
        ("the discriminator loss has only the fake term; add the real one, mean -log D(x).", float(d_fake), None),
    ]


def _gan_pair(out, name):
    expect(out is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    expect(isinstance(out, (tuple, list)), f"{name} returned a {type(out).__name__}, not a pair "
           "(d_loss, g_loss).", _PAIR_HINT)
    expect(len(out) == 2, f"{name} returned {len(out)} values, not 2.", _PAIR_HINT)
    return out


def _check_gan_values(gan_losses, what, r, f, extreme):
    name = f"gan_losses on {what}"
    try:
        given = (r.clone(), f.clone())
        out = call(gan_losses, *given)
        _unchanged(given, (r, f), ("real_logits", "fake_logits"), name)
    except _StudentError as err:
        if "Target size" not in str(err.original):
            raise
        message, _ = _describe_student_error(err.original)
        raise CheckFailure(f"{name}: {message}", "Make the labels the shape of the logits, whatever it is: "
                           "torch.ones_like(logits) and torch.zeros_like(logits).") from None
    out = _gan_pair(out, name)
    low = r.dtype != torch.float64
    d, d_low = _number(out[0], f"{name}: d_loss", _PAIR_HINT)
    g, g_low = _number(out[1], f"{name}: g_loss", _PAIR_HINT)
    want_d, want_g = (float(x) for x in _gan_losses_reference(r.to(torch.float64), f.to(torch.float64)))
    d_ok, g_ok = _close(d, want_d, low or d_low), _close(g, want_g, low or g_low)
    if d_ok and g_ok:
        return
    if extreme:   # the moderate cases come first, so these losses were right for them
        bad = "d_loss" if not d_ok else "g_loss"
        shown = d if not d_ok else g
        expect(False, f"{name}: {bad} = {shown:.6g}, expected {want_d if not d_ok else want_g:.6g}. Your losses "
               "are right for moderate logits but not for large ones: log(sigmoid(l)) underflows to "
               "log(0) = -inf, and F.binary_cross_entropy on probabilities clamps the log at -100.",
               "Work with the logits: -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l) "
               "(F.softplus, F.logsigmoid, or F.binary_cross_entropy_with_logits).")
    for message, cd, cg in _gan_candidates(r, f):
        hit_d = cd is None or _close(d, cd, True)
        hit_g = cg is None or _close(g, cg, True)
        wrong_d = cd is not None and not d_ok
        wrong_g = cg is not None and not g_ok
        if hit_d and hit_g and (wrong_d or wrong_g):
            expect(False, f"{name}: {message}", "d_loss = mean -log D(x) + mean -log(1 - D(G(z))); "
                   "g_loss = mean -log D(G(z)), with D = sigmoid(logit).")
    parts = []
    for ok, label, value, want in [(d_ok, "d_loss", d, want_d), (g_ok, "g_loss", g, want_g)]:
        if not ok:
            shown, wanted = _pair_text(value, want)
            parts.append(f"{label} = {shown}, expected {wanted}")
    near = all(ok or (math.isfinite(v) and abs(v - w) <= 1e-3 * max(abs(w), 1.0))
               for ok, v, w in [(d_ok, d, want_d), (g_ok, g, want_g)])
    expect(not near, f"{name}: close, but not exact: " + "; ".join(parts) + ". A small eps added inside a "
           "log, or a clamp of the probabilities, changes the loss.",
           "Compute from the logits instead: -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = "
           "softplus(l), exact for every l (F.binary_cross_entropy_with_logits does this).")
    expect(False, f"{name}: " + "; ".join(parts) + ".",
           "d_loss = BCE(real logits, 1) + BCE(fake logits, 0) and g_loss = BCE(fake logits, 1), each a "
           "mean over its batch; compute them from the logits (F.binary_cross_entropy_with_logits).")


@checker("the GAN losses from logits")
def ex1(gan_losses):
    """``gan_losses(real_logits, fake_logits)`` -> ``(d_loss, g_loss)``, scalar tensors."""
    for what, r, f, extreme in _gan_cases():
        _check_gan_values(gan_losses, what, r, f, extreme)
    # The gradients: what training uses. A confident D (fakes near -6) shows the non-saturating slope.
    r = torch.tensor([2.0, -0.5, 4.0, 1.0, 0.3, -2.0], dtype=torch.float64)
    f = torch.tensor([-6.0, -3.0, 0.0, 2.5], dtype=torch.float64)
    name = "gan_losses with 6 real and 4 fake logits that require grad"
    out, leaves = _grads(gan_losses, name, {"real": r, "fake": f})
    out = _gan_pair(out, name)
    d = _require_graph(out[0], name, "a d_loss")
    g = _require_graph(out[1], name, "a g_loss")
    expect(d.numel() == 1 and g.numel() == 1, f"{name} returned losses that are not scalars.", _PAIR_HINT)
    d, g = d.reshape(()), g.reshape(())
    want = {("d", "real"): -(1 - torch.sigmoid(r)) / r.numel(), ("d", "fake"): torch.sigmoid(f) / f.numel(),
            ("g", "real"): torch.zeros_like(r), ("g", "fake"): -(1 - torch.sigmoid(f)) / f.numel()}
    for (loss_name, leaf_name), target in want.items():
        grad = _grad_of(d if loss_name == "d" else g, leaves[leaf_name])
        grad = torch.zeros_like(target) if grad is None else grad.to(torch.float64)
        expect(_tensors_close(grad.reshape(target.shape), target),
               f"{name}: the gradient of {loss_name}_loss with respect to the {leaf_name} logits is "
               f"{grad.numpy().round(4).tolist()}, expected {target.numpy().round(4).tolist()}.",
               "Compute the losses from the logits with differentiable torch operations.")
    slope = float(-(1 - torch.sigmoid(f[0])) / f.numel())
    return (f"Matches BCE-with-logits for every batch, dtype and logits up to 1000. At a fake logit of -6 "
            f"(D(G(z)) = {float(torch.sigmoid(f[0])):.4f}) the generator's gradient is {slope:.3f}: it has not "
            "saturated.")


# ---- exercise 2: the reparameterisation trick -----------------------------------------------


def _reparameterize_reference(mu, logvar, eps):
    """The model answer of exercise 2."""
    return mu + torch.exp(0.5 * logvar) * eps


def _vae_cases(seed: int):
    """(what, mu, logvar, eps): batch sizes, latent sizes, dtypes; logvar in [-4, 3]."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for what, n, d, dtype in [("a batch of 4, latent size 3 (float64)", 4, 3, torch.float64),
                              ("a batch of 7, latent size 3 (float32)", 7, 3, torch.float32),
                              ("a batch of 1, latent size 16 (float64)", 1, 16, torch.float64),
                              ("a batch of 5, latent size 10 (float32)", 5, 10, torch.float32),
                              ("a batch of 6, latent size 1 (float64)", 6, 1, torch.float64)]:
        mu = torch.randn(n, d, generator=g, dtype=torch.float64).mul(1.5).to(dtype)
        logvar = (torch.rand(n, d, generator=g, dtype=torch.float64) * 7 - 4).to(dtype)
        eps = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)
        cases.append((what, mu, logvar, eps))
    return cases


def _reparameterize_diagnosis(got, mu, logvar, eps):
    tries = [
        ("the standard deviation is logvar itself; logvar is the log of the variance, so sigma = "
         "exp(logvar / 2).", mu + logvar * eps),
        ("exp(logvar) is the variance sigma^2, not the standard deviation: use exp(logvar / 2).",
         mu + torch.exp(logvar) * eps),
        ("exp(2 logvar) treats logvar as log sigma; it is log sigma^2, so sigma = exp(logvar / 2).",
         mu + torch.exp(2 * logvar) * eps),
        ("the noise eps is not scaled by sigma = exp(logvar / 2).", mu + eps),
        ("the noise eps is missing: z = mu + sigma * eps.", mu + torch.exp(0.5 * logvar)),
        ("mu and sigma swapped roles: z = mu + sigma * eps, so eps is scaled by sigma, not by mu.",
         torch.exp(0.5 * logvar) + mu * eps),
        ("the mean mu is missing: z = mu + sigma * eps.", torch.exp(0.5 * logvar) * eps),
    ]
    for message, candidate in tries:
        if _tensors_close(got.to(candidate.dtype), candidate):
            return message
    return None


@checker("the reparameterisation trick")
def ex2(reparameterize):
    """``reparameterize(mu, logvar, eps)`` -> ``z = mu + exp(logvar / 2) * eps``, shape of ``mu``."""
    for what, mu, logvar, eps in _vae_cases(21):
        name = f"reparameterize on {what}"
        given = (mu.clone(), logvar.clone(), eps.clone())
        got = _tensor(call(reparameterize, *given), name)
        _unchanged(given, (mu, logvar, eps), ("mu", "logvar", "eps"), name)
        expect(tuple(got.shape) == tuple(mu.shape), f"{name} returned shape {tuple(got.shape)}, expected "
               f"{tuple(mu.shape)}.", "z has one entry per entry of mu: compute it elementwise.")
        expect(got.is_floating_point(), f"{name} returned dtype {got.dtype}.", "Return floats.")
        want = _reparameterize_reference(mu, logvar, eps)
        if not _tensors_close(got, want):
            again = _tensor(call(reparameterize, mu.clone(), logvar.clone(), eps.clone()), name)
            expect(tuple(again.shape) != tuple(got.shape) or torch.equal(again.nan_to_num(), got.nan_to_num()),
                   f"{name} gave different results for the same inputs: it draws its own noise.",
                   "Use the eps you are given: z = mu + exp(logvar / 2) * eps. (In training, eps comes from "
                   "torch.randn_like(mu).)")
            diagnosis = _reparameterize_diagnosis(got, mu.to(got.dtype), logvar.to(got.dtype), eps.to(got.dtype))
            expect(False, f"{name}: " + (diagnosis or "the values differ from mu + exp(logvar / 2) * eps."),
                   "logvar = log sigma^2, so sigma = exp(logvar / 2); z = mu + sigma * eps.")
    mu, logvar, eps = _vae_cases(22)[1][1:]
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    name = "reparameterize with mu and logvar that require grad"
    z, leaves = _grads(reparameterize, name, {"mu": mu, "logvar": logvar}, (eps,))
    z = _require_graph(z, name, "a z")
    expect(tuple(z.shape) == tuple(mu.shape), f"{name} returned shape {tuple(z.shape)}.", "Keep mu's shape.")
    weight = torch.linspace(-1, 2, mu.numel(), dtype=torch.float64).reshape(mu.shape)
    for leaf, target in [("mu", weight), ("logvar", weight * 0.5 * torch.exp(0.5 * logvar) * eps)]:
        grad = _grad_of(z, leaves[leaf], weight.to(z.dtype))
        expect(grad is not None, f"{name}: no gradient reaches {leaf}, so the encoder could not learn it.",
               "Compute z from mu and logvar with torch operations (no .detach(), .item(), NumPy or "
               "torch.no_grad()); only eps is random, which is the point of the trick.")
        expect(_tensors_close(grad.to(torch.float64), target, low=z.dtype != torch.float64),
               f"{name}: the gradient with respect to {leaf} is wrong.",
               "z = mu + exp(logvar / 2) * eps: dz/dmu = 1, dz/dlogvar = exp(logvar / 2) * eps / 2.")
    return "z = mu + exp(logvar / 2) * eps for every shape and dtype, with gradients reaching mu and logvar."


# ---- exercise 3: the KL term of the ELBO ------------------------------------------------------


def _kl_reference(mu, logvar):
    """The model answer of exercise 3."""
    per_example = 0.5 * (mu**2 + torch.exp(logvar) - 1 - logvar).sum(dim=1)
    return per_example.mean()


def _kl_diagnosis(got: float, mu, logvar, low: bool):
    n, d = mu.shape
    terms = 0.5 * (mu**2 + torch.exp(logvar) - 1 - logvar)
    ok = float(terms.sum(1).mean())
    tries = [
        ("the factor 1/2 is missing.", 2 * ok),
        ("the sign is flipped: a KL divergence is never negative.", -ok),
        ("it is a mean over the latent dimensions; the contract sums over them (and averages over the "
         "batch).", ok / d),
        ("it is a sum over the batch; the contract averages over the batch.", ok * n),
        ("logvar was taken as log sigma (exp(2 logvar), 2 logvar); it is log sigma^2.",
         float(0.5 * (mu**2 + torch.exp(2 * logvar) - 1 - 2 * logvar).sum(1).mean())),
        ("exp(logvar / 2) is sigma, not the variance sigma^2 = exp(logvar).",
         float(0.5 * (mu**2 + torch.exp(logvar / 2) - 1 - logvar).sum(1).mean())),
        ("the -1 in each term is missing.", float(0.5 * (mu**2 + torch.exp(logvar) - logvar).sum(1).mean())),
        ("the mu^2 term is missing.", float(0.5 * (torch.exp(logvar) - 1 - logvar).sum(1).mean())),
        ("the -logvar term has the wrong sign.", float(0.5 * (mu**2 + torch.exp(logvar) - 1 + logvar).sum(1).mean())),
        ("the axes are swapped: it sums over the batch and averages over the latent dimensions; sum over "
         "dim=1, then average over dim=0.", ok * n / d),
    ]
    for message, candidate in tries:
        if d == 1 and "latent dimensions" in message:
            continue
        if (n == 1 or d == 1) and ("over the batch" in message or "axes are swapped" in message):
            continue
        if _close(got, candidate, low):
            return message
    return None


@checker("the KL term of a VAE")
def ex3(kl_to_standard_normal):
    """``kl_to_standard_normal(mu, logvar)`` -> scalar: KL summed over latent dims, averaged over the batch."""
    hint = ("Sum the KL over the latent dimensions (dim=1) and average it over the batch: one number, "
            "e.g. kl.sum(dim=1).mean().")
    for what, mu, logvar, _ in _vae_cases(31):
        name = f"kl_to_standard_normal on {what}"
        given = (mu.clone(), logvar.clone())
        out = call(kl_to_standard_normal, *given)
        _unchanged(given, (mu, logvar), ("mu", "logvar"), name)
        if isinstance(out, torch.Tensor) and out.numel() > 1:
            shape = tuple(out.shape)
            if shape in ((mu.shape[0],), (mu.shape[0], 1)):
                expect(False, f"{name} returned shape {shape}: one KL per example.", "Average them over the "
                       "batch with .mean(): the contract is one number.")
            expect(False, f"{name} returned shape {shape}, not a single number.", hint)
        got, low = _number(out, name, hint)
        low = low or mu.dtype != torch.float64
        want = float(_kl_reference(mu.double(), logvar.double()))
        if not _close(got, want, low):
            diagnosis = _kl_diagnosis(got, mu.double(), logvar.double(), low)
            expect(False, f"{name} = {got:.6g}, expected {want:.6g}" + (f": {diagnosis}" if diagnosis else "."),
                   "KL = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j), summed over the latent "
                   "dimensions j, then averaged over the batch.")
    mu, logvar = (t.double() for t in _vae_cases(32)[3][1:3])
    name = "kl_to_standard_normal with mu and logvar that require grad"
    kl, leaves = _grads(kl_to_standard_normal, name, {"mu": mu, "logvar": logvar})
    kl = _require_graph(kl, name, "a KL")
    expect(kl.numel() == 1, f"{name} returned shape {tuple(kl.shape)}.", hint)
    n = mu.shape[0]
    for leaf, target in [("mu", mu / n), ("logvar", 0.5 * (torch.exp(logvar) - 1) / n)]:
        grad = _grad_of(kl.reshape(()), leaves[leaf])
        expect(grad is not None, f"{name}: no gradient reaches {leaf}.", "Use torch operations only.")
        expect(_tensors_close(grad.to(torch.float64), target, low=kl.dtype != torch.float64),
               f"{name}: the gradient with respect to {leaf} "
               "is wrong.", "dKL/dmu = mu / N and dKL/dlogvar = (exp(logvar) - 1) / (2N) for a batch of N.")
    return "The KL matches the closed form for every shape and dtype, with the right gradients."


# ---- exercise 4: the Fréchet distance between two Gaussians -----------------------------------


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S1 S2)^{1/2}) = sum of the square roots of the eigenvalues of S1^{1/2} S2 S1^{1/2}."""
    r = _psd_sqrt(s1)
    w = np.linalg.eigvalsh(r @ s2 @ r)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def _frechet_reference(mu1, S1, mu2, S2):
    """The model answer of exercise 4 (exact for symmetric positive semi-definite S1, S2)."""
    mu1, mu2, S1, S2 = (np.asarray(a, dtype=np.float64) for a in (mu1, mu2, S1, S2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(S1) + np.trace(S2) - 2 * _trace_sqrt_product(S1, S2))


def _spd(rng, d, low=0.2):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + low * np.eye(d)


def _frechet_cases():
    """(what, mu1, S1, mu2, S2, closed form or None)."""
    rng = np.random.default_rng(12)
    cases = []
    a, b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.5])
    m1, m2 = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.0, -1.0])
    cases.append(("diagonal covariances in 3 dimensions", m1, np.diag(a), m2, np.diag(b),
                  float(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))))
    s = _spd(rng, 4)
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    cases.append(("equal covariances in 4 dimensions", m1, s, m2, s.copy(), float(np.sum((m1 - m2) ** 2))))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    a, b = np.array([3.0, 0.5, 1.2]), np.array([0.2, 2.0, 1.0])
    m1, m2 = rng.standard_normal(3), rng.standard_normal(3)
    cases.append(("commuting covariances (the same eigenvectors) in 3 dimensions", m1, (q * a) @ q.T, m2,
                  (q * b) @ q.T, float(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))))
    cases.append(("one dimension, variances 4 and 9", np.array([1.0]), np.array([[4.0]]), np.array([-0.5]),
                  np.array([[9.0]]), 1.5**2 + (2.0 - 3.0) ** 2))
    for d in (2, 5, 10):
        cases.append((f"random covariances in {d} dimensions", rng.standard_normal(d), _spd(rng, d),
                      rng.standard_normal(d) * 2, _spd(rng, d, 0.5), None))
    s, m = _spd(rng, 6), rng.standard_normal(6)
    cases.append(("two identical Gaussians in 6 dimensions", m, s, m.copy(), s.copy(), 0.0))
    return cases


def _frechet_candidates(mu1, S1, mu2, S2):
    diff = mu1 - mu2
    sq, tr = float(diff @ diff), float(np.trace(S1) + np.trace(S2))
    cross = _trace_sqrt_product(S1, S2)
    with np.errstate(all="ignore"):
        elementwise = float(np.trace(np.sqrt(S1 @ S2)))
        separate = float(np.trace(_psd_sqrt(S1) @ _psd_sqrt(S2)))
        root_of_trace = math.sqrt(max(float(np.trace(S1 @ S2)), 0.0))
    correct = sq + tr - 2 * cross
    return [
        ("the cross term -2 tr((S1 S2)^(1/2)) is missing.", sq + tr),
        ("the cross term needs the factor 2: -2 tr((S1 S2)^(1/2)).", sq + tr - cross),
        ("np.sqrt takes the square root of each entry; the formula needs the matrix square root "
         "(scipy.linalg.sqrtm).", sq + tr - 2 * elementwise),
        ("tr(S1 S2) is missing its square root: the term is tr((S1 S2)^(1/2)), a matrix square root.",
         sq + tr - 2 * float(np.trace(S1 @ S2))),
        ("the square root must be of the product S1 S2, not of each matrix: sqrtm(S1) @ sqrtm(S2) equals "
         "sqrtm(S1 @ S2) only when they commute.", sq + tr - 2 * separate),
        ("the square root must be of the matrix S1 S2, before the trace, not of tr(S1 S2).",
         sq + tr - 2 * root_of_trace),
        ("the mean difference is not squared: the first term is |mu1 - mu2|^2.", math.sqrt(sq) + tr - 2 * cross),
        ("that is the distance d, the square root of the answer; the contract (and FID) is d^2.",
         math.sqrt(max(correct, 0.0))),
        ("the signs of the trace terms are flipped: + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).",
         sq - tr + 2 * cross),
    ]


def _is_complex(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_complex()
    if isinstance(value, (complex, np.complexfloating)):
        return True
    return isinstance(value, np.ndarray) and np.iscomplexobj(value)


@checker("the Fréchet distance between two Gaussians")
def ex4(frechet_distance):
    """``frechet_distance(mu1, S1, mu2, S2)`` -> float: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``."""
    hint = "Return one number, the squared Fréchet distance d^2, e.g. float(...)."
    for what, mu1, S1, mu2, S2, closed in _frechet_cases():
        name = f"frechet_distance on {what}"
        given = (mu1.copy(), S1.copy(), mu2.copy(), S2.copy())
        out = call(frechet_distance, *given)
        for label, a, b in zip(("mu1", "S1", "mu2", "S2"), given, (mu1, S1, mu2, S2)):
            expect(np.array_equal(a, b), f"{name} changed its argument {label} in place.",
                   "Compute new arrays (diff = mu1 - mu2); do not write into the arguments (no -=, +=).")
        if _is_complex(out):
            expect(False, f"{name} returned a complex number.", "scipy.linalg.sqrtm can return a complex matrix "
                   "whose imaginary parts are rounding errors: keep its real part (.real), as FID code does.")
        got, low = _number(out, name, hint)
        want = _frechet_reference(mu1, S1, mu2, S2)
        if closed is not None:
            assert abs(want - closed) < 1e-9 * max(1.0, abs(closed)), (want, closed)   # the reference itself
        scale = float(np.trace(S1) + np.trace(S2) + np.sum((mu1 - mu2) ** 2))
        tol = (1e-4 if low else 2e-5) * max(scale, 1.0)   # float32 arithmetic inside is fine too
        if math.isfinite(got) and abs(got - want) <= tol:
            continue
        for message, candidate in _frechet_candidates(mu1, S1, mu2, S2):
            if not math.isfinite(got) and not math.isfinite(candidate) and "np.sqrt" in message:
                expect(False, f"{name} is {got}: {message}", "S1 @ S2 has negative entries, whose elementwise "
                       "square roots are NaN.")
            if math.isfinite(got) and math.isfinite(candidate) and abs(candidate - want) > tol \
                    and abs(got - candidate) <= tol:
                expect(False, f"{name} = {got:.6g}, expected {want:.6g}: {message}",
                       "d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 @ S2)).")
        expect(math.isfinite(got), f"{name} is {got}.", "Look for the square root of a negative number: "
               "take the matrix square root (scipy.linalg.sqrtm) of S1 @ S2 and keep its real part.")
        expect(False, f"{name} = {got:.6g}, expected {want:.6g}.",
               "d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 @ S2)).")
    return "Matches the closed forms and the reference for diagonal, equal, commuting and random covariances."


# ---- exercise 5: mode coverage on a ring of Gaussians -----------------------------------------


def _ring_centres(radius, n_modes):
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _modes_covered_reference(samples, radius, sigma, n_modes, min_fraction=0.02):
    """The model answer of exercise 5."""
    samples = np.asarray(samples, dtype=np.float64)
    centres = _ring_centres(radius, n_modes)                                  # (K, 2)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, K)
    fraction = (dist <= 3 * sigma).mean(axis=0)                               # per mode
    return int(np.sum(fraction >= min_fraction))


def _ring_samples(rng, radius, sigma, counts, decoys, junk):
    """Samples: ``counts[k]`` within 2.8 sigma of mode k; ``decoys`` {k: (n, lo, hi)} at lo..hi sigma from
    mode k; ``junk`` uniform points farther than 12 sigma (and 0.6) from every centre. Shuffled."""
    n_modes = len(counts)
    centres = _ring_centres(radius, n_modes)
    parts = []
    for k, c in enumerate(counts):
        p = rng.standard_normal((c, 2)) * sigma
        r = np.linalg.norm(p, axis=1, keepdims=True)
        parts.append(centres[k] + np.where(r > 2.8 * sigma, p * (2.8 * sigma / np.maximum(r, 1e-300)), p))
    for k, (c, lo, hi) in decoys.items():
        angle, dist = rng.uniform(0, 2 * np.pi, c), rng.uniform(lo, hi, c) * sigma
        parts.append(centres[k] + dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    far = []
    while len(far) < junk:
        p = rng.uniform(-radius - 1, radius + 1, 2)
        if np.min(np.linalg.norm(centres - p, axis=1)) > max(12 * sigma, 0.6):
            far.append(p)
    parts.append(np.array(far).reshape(-1, 2))
    samples = np.concatenate(parts)
    return samples[rng.permutation(len(samples))]


def _ring_cases():
    """(what, samples, radius, sigma, n_modes, min_fraction)."""
    rng = np.random.default_rng(12)
    specs = [
        ("8 modes, radius 2, sigma 0.02, threshold 2%", 2.0, 0.02, [300, 200, 150, 25, 19, 0, 0, 100],
         {5: (60, 4, 8)}, 146, 0.02, np.float64),
        ("5 modes, radius 1, sigma 0.05, threshold 10%", 1.0, 0.05, [100, 45, 39, 0, 80],
         {3: (60, 4, 6)}, 76, 0.1, np.float64),
        ("12 modes, radius 3.5, sigma 0.1, threshold 5% (float32 samples)", 3.5, 0.1,
         [40, 31, 29, 0, 0, 60, 0, 0, 100, 0, 35, 0], {3: (40, 3.5, 5)}, 265, 0.05, np.float32),
        ("8 modes, radius 2, sigma 0.02, every mode covered", 2.0, 0.02, [100] * 8, {}, 0, 0.02, np.float64),
        ("6 modes, radius 1.5, sigma 0.03, all samples in one mode (collapse)", 1.5, 0.03,
         [300, 0, 0, 0, 0, 0], {}, 0, 0.02, np.float64),
        ("3 modes, radius 1, sigma 0.05, threshold 6.25%, one mode with exactly 10 of 160 samples", 1.0, 0.05,
         [10, 9, 141], {}, 0, 0.0625, np.float64),
        ("3 modes, radius 1, sigma 0.05, threshold 6.25% of 170 samples (10.625): one mode with 10, one "
         "with 11", 1.0, 0.05, [10, 11, 149], {}, 0, 0.0625, np.float64),
        ("4 modes, radius 2, sigma 0.05, no sample near any mode", 2.0, 0.05, [0, 0, 0, 0], {}, 200, 0.01,
         np.float64),
        ("10 modes, radius 2.5, sigma 0.04, threshold 25%", 2.5, 0.04, [25, 24, 0, 26, 25, 0, 0, 0, 0, 0],
         {}, 0, 0.25, np.float64),
        ("4 modes, radius 1.5, sigma 0.04, threshold 10%, with samples just inside and just outside 3 sigma",
         1.5, 0.04, [30, 0, 0, 0], {1: (25, 2.92, 2.99), 2: (21, 3.01, 3.08)}, 124, 0.1, np.float64),
    ]
    cases = []
    for what, radius, sigma, counts, decoys, junk, frac, dtype in specs:
        samples = _ring_samples(rng, radius, sigma, counts, decoys, junk).astype(dtype)
        cases.append((what, samples, radius, sigma, len(counts), frac))
    return cases


def _ring_diagnosis(got, samples, radius, sigma, n_modes, frac):
    ref = _modes_covered_reference
    s = np.asarray(samples, dtype=np.float64)
    dist = np.linalg.norm(s[:, None, :] - _ring_centres(radius, n_modes)[None], axis=2)
    near = dist <= 3 * sigma
    tries = [
        ("a mode with exactly the threshold fraction counts as covered: use >=, not >.",
         int(np.sum(near.mean(0) > frac))),
        ("the number of samples needed was rounded down: with min_fraction * N = "
         f"{frac * len(s):g}, a mode needs at least {math.ceil(frac * len(s))} samples.",
         int(np.sum(near.sum(0) >= math.floor(frac * len(s))))),
        ("it uses 8 modes whatever n_modes is.", ref(s, radius, sigma, 8, frac)),
        ("it uses the threshold 0.02 whatever min_fraction is.", ref(s, radius, sigma, n_modes, 0.02)),
        ("it uses radius 2 whatever the radius is.", ref(s, 2.0, sigma, n_modes, frac)),
        ("it compares the squared distance with 3 sigma; compare the distance with 3 sigma (or the squared "
         "distance with (3 sigma)^2).", int(np.sum(((dist**2) <= 3 * sigma).mean(0) >= frac))),
        ("it compares the distance with sigma; a sample is near a mode within 3 sigma.",
         ref(s, radius, sigma / 3, n_modes, frac)),
        ("it counts samples near some mode, not modes.", int(near.any(axis=1).sum())),
        ("the fraction is taken of the samples near some mode; take it of all the samples.",
         int(np.sum(near.sum(0) / max(int(near.any(1).sum()), 1) >= frac))),
        ("the modes start at angle pi / n_modes; they start at angle 0, on the positive x-axis.",
         _modes_at_half_step(s, radius, sigma, n_modes, frac)),
    ]
    radii = [("it counts the samples within " + ("less" if k < 3 else "more") + " than 3 sigma of a "
              "centre: a sample is near a mode when its distance is at most 3 sigma, no more, no less.",
              ref(s, radius, sigma * k / 3, n_modes, frac)) for k in (2.9, 3.5, 2.5, 4, 2, 5)]
    # Where samples lie close to 3 sigma on both sides, a radius other than 3 sigma is the likely
    # mistake (a count is easily hit by chance by the other candidates too).
    probed = bool(np.any((dist > 2.9 * sigma) & (dist < 3.1 * sigma)))
    tries = radii + tries if probed else tries + radii
    want = ref(s, radius, sigma, n_modes, frac)
    for message, candidate in tries:
        if candidate != want and got == candidate:
            return message
    return None


def _modes_at_half_step(s, radius, sigma, n_modes, frac):
    angles = 2 * np.pi * (np.arange(n_modes) + 0.5) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    dist = np.linalg.norm(s[:, None, :] - centres[None], axis=2)
    return int(np.sum((dist <= 3 * sigma).mean(0) >= frac))


@checker("mode coverage on a ring of Gaussians")
def ex5(modes_covered):
    """``modes_covered(samples, radius, sigma, n_modes, min_fraction)`` -> int, the modes covered."""
    hint = "Return the number of covered modes, one whole number (e.g. int(covered.sum()))."
    for what, samples, radius, sigma, n_modes, frac in _ring_cases():
        name = f"modes_covered on {what}"
        given = samples.copy()
        out = call(modes_covered, given, radius, sigma, n_modes, frac)
        expect(np.array_equal(given, samples), f"{name} changed the samples in place.",
               "Compute new arrays (samples[:, None, :] - centres); do not write into samples.")
        if isinstance(out, (np.ndarray, torch.Tensor)) and np.prod(tuple(out.shape)) == n_modes and n_modes > 1:
            expect(False, f"{name} returned {n_modes} values, one per mode.", "Count the modes whose fraction "
                   "reaches min_fraction, and return that count.")
        got, _ = _number(out, name, hint)
        expect(math.isfinite(got) and got == int(got), f"{name} returned {got}, not a whole number.", hint)
        got = int(got)
        want = _modes_covered_reference(samples, radius, sigma, n_modes, frac)
        if got != want:
            diagnosis = _ring_diagnosis(got, samples, radius, sigma, n_modes, frac)
            expect(False, f"{name} = {got}, expected {want}" + (f": {diagnosis}" if diagnosis else "."),
                   "Mode k sits at radius * (cos 2 pi k / n, sin 2 pi k / n); it is covered when at least "
                   "min_fraction of all the samples lie within 3 sigma of it.")
    return "The count is right for every ring, spread, number of modes and threshold."


#: Reference answers for the checker battery: one per checker.
REFERENCE_ANSWERS = {"ex1": _gan_losses_reference, "ex2": _reparameterize_reference, "ex3": _kl_reference,
                     "ex4": _frechet_reference, "ex5": _modes_covered_reference}


def _gan_losses_softplus(real_logits, fake_logits):
    """-log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean(), F.softplus(-fake_logits).mean()


def _gan_losses_logsigmoid(real_logits, fake_logits):
    d = -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()
    return d, -F.logsigmoid(fake_logits).mean()


def _reparameterize_sqrt(mu, logvar, eps):
    return mu + eps * logvar.exp().sqrt()


def _kl_distributions(mu, logvar):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(-1).mean()


def _frechet_scipy(mu1, S1, mu2, S2):
    covmean = _scipy_linalg.sqrtm(S1 @ S2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(S1 + S2 - 2 * covmean))


def _frechet_float32(mu1, S1, mu2, S2):
    m1, m2, a, b = (torch.as_tensor(x, dtype=torch.float32) for x in (mu1, mu2, S1, S2))
    w, v = torch.linalg.eigh(a)
    ra = (v * w.clamp(min=0).sqrt()) @ v.T
    lam = torch.linalg.eigvalsh(ra @ b @ ra).clamp(min=0)
    return ((m1 - m2) ** 2).sum() + a.trace() + b.trace() - 2 * lam.sqrt().sum()


def _modes_covered_loop(samples, radius, sigma, n_modes, min_fraction=0.02):
    covered = 0
    for k in range(n_modes):
        cx = radius * math.cos(2 * math.pi * k / n_modes)
        cy = radius * math.sin(2 * math.pi * k / n_modes)
        near = sum(1 for x, y in samples if (x - cx) ** 2 + (y - cy) ** 2 < (3 * sigma) ** 2)
        if near / len(samples) >= min_fraction:
            covered += 1
    return covered


def _modes_covered_nearest(samples, radius, sigma, n_modes, min_fraction=0.02):
    """Assign each sample to its nearest centre (the same when the 3-sigma discs do not overlap)."""
    x = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    centres = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    dist = torch.cdist(x, centres)
    best, which = dist.min(dim=1)
    counts = torch.bincount(which[best < 3 * sigma], minlength=n_modes)
    return (counts >= min_fraction * len(x)).sum()


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_gan_losses_softplus, _gan_losses_logsigmoid], "ex2": [_reparameterize_sqrt],
                    "ex3": [_kl_distributions], "ex4": [_frechet_scipy, _frechet_float32],
                    "ex5": [_modes_covered_loop, _modes_covered_nearest]}
