"""Direct tests of the chapter 12 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checker_helpers import SHARED_BAD, run_checker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import linalg

from dlcore.exercises import ch12 as check

# ---- reference solutions (the same as in exercises/solutions/12_generative.ipynb) ------------


def gan_losses(real_logits, fake_logits):
    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    g_loss = F.softplus(-fake_logits).mean()
    return d_loss, g_loss


def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu, logvar):
    return (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(dim=1).mean()


def frechet_distance(mu1, S1, mu2, S2):
    covmean = linalg.sqrtm(S1 @ S2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(S1) + np.trace(S2) - 2 * np.trace(covmean))


def modes_covered(samples, radius, sigma, n_modes, min_fraction):
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    fraction = (dist < 3 * sigma).mean(axis=0)
    return int((fraction >= min_fraction).sum())


REFERENCE = {"ex1": gan_losses, "ex2": reparameterize, "ex3": kl_to_standard_normal,
             "ex4": frechet_distance, "ex5": modes_covered}


def _run(capsys, name, answer):
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
def test_module_reference_answers_and_rewrites_pass(capsys, name):
    for answer in [check.REFERENCE_ANSWERS[name], *check.CORRECT_REWRITES.get(name, [])]:
        passed, out = _run(capsys, name, answer)
        assert passed, (answer.__name__, out)


def test_every_checker_has_a_reference_answer():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch12") == ["ex1", "ex2", "ex3", "ex4", "ex5"] == sorted(check.REFERENCE_ANSWERS)


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "None"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
    ("a function that returns NaN", lambda *a, **k: float("nan"), "✗"),
    ("a function that returns a string", lambda *a, **k: "0.5", "✗"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out
    assert "checker itself failed" not in out and "could not be checked" not in out, out


# ---- exercise 1: the GAN losses -----------------------------------------------------------------


def _sp(x):
    return F.softplus(x)


@pytest.mark.parametrize("answer, words", [
    (lambda r, f: (gan_losses(r, f)[0], -_sp(f).mean()), "minimax"),
    (lambda r, f: (gan_losses(r, f)[0], -gan_losses(r, f)[0]), "minus the discriminator loss"),
    (lambda r, f: (gan_losses(r, f)[0], _sp(f).mean()), "labels the fakes 0"),
    (lambda r, f: (_sp(r).mean() + _sp(-f).mean(), gan_losses(r, f)[1]), "labels are swapped"),
    (lambda r, f: (_sp(-r).sum() + _sp(f).sum(), _sp(-f).sum()), "sums over the batch"),
    (lambda r, f: (gan_losses(r, f)[0] / 2, gan_losses(r, f)[1]), "averaged"),
    (lambda r, f: (torch.cat([_sp(-r).ravel(), _sp(f).ravel()]).mean(), gan_losses(r, f)[1]), "together"),
    (lambda r, f: (_sp(-r).mean(), gan_losses(r, f)[1]), "only the real term"),
    (lambda r, f: (gan_losses(r, f)[0], _sp(-r).mean()), "real logits"),
    # numerically unstable: log of a sigmoid that under- or overflows
    (lambda r, f: (-torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean(),
                   -torch.log(torch.sigmoid(f)).mean()), "moderate logits"),
    (lambda r, f: (F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
                   + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f)),
                   F.binary_cross_entropy(torch.sigmoid(f), torch.ones_like(f))), "clamps"),
    (lambda r, f: (-torch.log(torch.sigmoid(r) + 1e-8).mean() - torch.log(1 - torch.sigmoid(f) + 1e-8).mean(),
                   -torch.log(torch.sigmoid(f) + 1e-8).mean()), "small eps"),
    (lambda r, f: (-torch.log(torch.sigmoid(r).clamp(1e-7, 1 - 1e-7)).mean()
                   - torch.log(1 - torch.sigmoid(f).clamp(1e-7, 1 - 1e-7)).mean(),
                   -torch.log(torch.sigmoid(f).clamp(1e-7, 1 - 1e-7)).mean()), "clamp"),
    (lambda r, f: gan_losses(r, f)[0], "not a pair"),
    (lambda r, f: (*gan_losses(r, f), 0.0), "3 values"),
    (lambda r, f: (gan_losses(r, f)[0], F.softplus(-f)), "not a single number"),
    (lambda r, f: tuple(x.item() for x in gan_losses(r, f)), "carries no gradient"),
    (lambda r, f: tuple(x.detach() for x in gan_losses(r, f)), "carries no gradient"),
    (lambda r, f: tuple(x.half() for x in gan_losses(r, f)), "float16"),
    (lambda r, f: (F.binary_cross_entropy_with_logits(r, torch.ones(len(r)))
                   + F.binary_cross_entropy_with_logits(f, torch.zeros(len(f))),
                   F.binary_cross_entropy_with_logits(f, torch.ones(len(f)))), "ones_like"),
])
def test_ex1_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def test_ex1_accepts_floats_of_either_dtype_and_bce_with_logits(capsys):
    def bce(r, f):
        ones, zeros = torch.ones_like(r), torch.zeros_like(f)
        d = F.binary_cross_entropy_with_logits(r, ones) + F.binary_cross_entropy_with_logits(f, zeros)
        return [d.float(), F.binary_cross_entropy_with_logits(f, torch.ones_like(f)).double()]

    passed, out = _run(capsys, "ex1", bce)
    assert passed, out


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=9), st.lists(st.floats(-1e3, 1e3), min_size=1,
                                                                          max_size=9))
def test_ex1_reference_equals_torch_bce_with_logits(real, fake):
    r, f = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    d, g = check._gan_losses_reference(r, f)
    want_d = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
        F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    assert torch.isclose(d, want_d) and torch.isclose(g, F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))
    d2, g2 = gan_losses(r, f)
    assert torch.isclose(d, d2) and torch.isclose(g, g2)


# ---- exercise 2: the reparameterisation trick --------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    (lambda mu, lv, eps: mu + lv * eps, "logvar itself"),
    (lambda mu, lv, eps: mu + lv.exp() * eps, "exp(logvar) is the variance"),
    (lambda mu, lv, eps: mu + torch.exp(2 * lv) * eps, "log sigma"),
    (lambda mu, lv, eps: mu + eps, "not scaled"),
    (lambda mu, lv, eps: mu + torch.exp(lv / 2), "eps is missing"),
    (lambda mu, lv, eps: torch.exp(lv / 2) + mu * eps, "swapped roles"),
    (lambda mu, lv, eps: torch.exp(lv / 2) * eps, "mu is missing"),
    (lambda mu, lv, eps: mu + torch.exp(lv / 2) * torch.randn_like(mu), "draws its own noise"),
    (lambda mu, lv, eps: torch.normal(mu, torch.exp(lv / 2)), "draws its own noise"),
    (lambda mu, lv, eps: mu + torch.sqrt(lv) * eps, "differ"),
    (lambda mu, lv, eps: (mu + torch.exp(lv / 2) * eps).sum(), "shape"),
    (lambda mu, lv, eps: mu.detach() + torch.exp(lv / 2) * eps, "no gradient reaches mu"),
    (lambda mu, lv, eps: mu + torch.exp(lv.detach() / 2) * eps, "no gradient reaches logvar"),
    (lambda mu, lv, eps: (mu + torch.exp(lv / 2) * eps).detach(), "carries no gradient"),
    (lambda mu, lv, eps: mu.numpy() + np.exp(lv.numpy() / 2) * eps.numpy(), "values are right, but"),
])
def test_ex2_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


# ---- exercise 3: the KL term -------------------------------------------------------------------


def _kl_terms(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv)


@pytest.mark.parametrize("answer, words", [
    (lambda mu, lv: 2 * kl_to_standard_normal(mu, lv), "1/2 is missing"),
    (lambda mu, lv: -kl_to_standard_normal(mu, lv), "sign is flipped"),
    (lambda mu, lv: _kl_terms(mu, lv).mean(), "mean over the latent dimensions"),
    (lambda mu, lv: _kl_terms(mu, lv).mean(dim=1).mean(), "mean over the latent dimensions"),
    (lambda mu, lv: _kl_terms(mu, lv).sum(), "sum over the batch"),
    (lambda mu, lv: (0.5 * (mu**2 + torch.exp(2 * lv) - 1 - 2 * lv)).sum(1).mean(), "log sigma"),
    (lambda mu, lv: (0.5 * (mu**2 + torch.exp(lv / 2) - 1 - lv)).sum(1).mean(), "not the variance"),
    (lambda mu, lv: (0.5 * (mu**2 + lv.exp() - lv)).sum(1).mean(), "-1 in each term"),
    (lambda mu, lv: (0.5 * (lv.exp() - 1 - lv)).sum(1).mean(), "mu^2 term"),
    (lambda mu, lv: (0.5 * (mu**2 + lv.exp() - 1 + lv)).sum(1).mean(), "wrong sign"),
    (lambda mu, lv: _kl_terms(mu, lv).sum(1), "one KL per example"),
    (lambda mu, lv: _kl_terms(mu, lv), "not a single number"),
    (lambda mu, lv: kl_to_standard_normal(mu, lv).item(), "carries no gradient"),
    (lambda mu, lv: kl_to_standard_normal(mu.detach(), lv), "no gradient reaches mu"),
    (lambda mu, lv: kl_to_standard_normal(mu, lv.detach()), "no gradient reaches logvar"),
])
def test_ex3_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False and words in out, out


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_ex3_reference_equals_torch_distributions(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    mu, lv = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)
    assert torch.isclose(check._kl_reference(mu, lv), check._kl_distributions(mu, lv))
    assert check._kl_reference(mu, lv) >= 0


# ---- exercise 4: the Fréchet distance ----------------------------------------------------------


def _fd(mu1, S1, mu2, S2, cross):
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(S1) + np.trace(S2) - cross)


def _sqrtm(a):
    return linalg.sqrtm(a).real


@pytest.mark.parametrize("answer, words", [
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 0.0), "cross term -2 tr((S1 S2)^(1/2)) is missing"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, np.trace(_sqrtm(S1 @ S2))), "factor 2"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 2 * np.trace(np.sqrt(S1 @ S2))), "each entry"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 2 * np.trace(np.sqrt(np.abs(S1 @ S2)))), "differ|expected"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 2 * np.trace(S1 @ S2)), "missing its square root"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 2 * np.trace(_sqrtm(S1) @ _sqrtm(S2))), "commute"),
    (lambda m1, S1, m2, S2: _fd(m1, S1, m2, S2, 2 * np.sqrt(np.trace(S1 @ S2))), "before the trace"),
    (lambda m1, S1, m2, S2: frechet_distance(m1, S1, m2, S2) - np.sum((m1 - m2) ** 2)
     + np.linalg.norm(m1 - m2), "not squared"),
    (lambda m1, S1, m2, S2: math.sqrt(max(frechet_distance(m1, S1, m2, S2), 0)), "the distance d"),
    (lambda m1, S1, m2, S2: np.sum((m1 - m2) ** 2) - np.trace(S1) - np.trace(S2)
     + 2 * np.trace(_sqrtm(S1 @ S2)), "signs"),
    (lambda m1, S1, m2, S2: linalg.sqrtm(S1 @ S2).trace() * (1 + 0j), "complex"),
    (lambda m1, S1, m2, S2: np.full(len(m1), frechet_distance(m1, S1, m2, S2)), "not a single number"),
    (lambda m1, S1, m2, S2: np.float16(frechet_distance(m1, S1, m2, S2)), "float16"),
])
def test_ex4_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex4", answer)
    assert passed is False, out
    assert any(w in out for w in words.split("|")), out


def test_ex4_accepts_torch_and_float32(capsys):
    def torch_fd(m1, S1, m2, S2):
        return check._frechet_float32(m1, S1, m2, S2).double()

    for answer in [check._frechet_float32, torch_fd, lambda *a: np.float32(frechet_distance(*a))]:
        passed, out = _run(capsys, "ex4", answer)
        assert passed, out


def _random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_ex4_reference_equals_scipy_sqrtm(d, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2, S1, S2 = rng.standard_normal(d), rng.standard_normal(d), _random_spd(rng, d), _random_spd(rng, d)
    want = frechet_distance(mu1, S1, mu2, S2)
    got = check._frechet_reference(mu1, S1, mu2, S2)
    assert abs(got - want) <= 1e-7 * (np.trace(S1) + np.trace(S2) + 1)
    assert got >= -1e-9                                                     # a squared distance
    assert abs(check._frechet_reference(mu1, S1, mu1, S1)) < 1e-9           # zero for itself
    assert abs(got - check._frechet_reference(mu2, S2, mu1, S1)) < 1e-8 * (1 + abs(got))   # symmetric


# ---- exercise 5: mode coverage -----------------------------------------------------------------


def _coverage(samples, radius, sigma, n_modes, min_fraction, *, k_fixed=None, frac_fixed=None,
              radius_fixed=None, squared=False, within=3.0, strict=False, offset=0.0):
    n = k_fixed or n_modes
    angles = 2 * np.pi * (np.arange(n) + offset) / n
    r = radius_fixed or radius
    centres = r * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    near = (dist**2 if squared else dist) < within * sigma
    fraction = near.mean(axis=0)
    f = frac_fixed or min_fraction
    return int((fraction > f).sum() if strict else (fraction >= f).sum())


def _near_any(samples, radius, sigma, n_modes, min_fraction):
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return int((np.linalg.norm(samples[:, None] - centres[None], axis=-1) < 3 * sigma).any(1).sum())


@pytest.mark.parametrize("answer, words", [
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, k_fixed=8), "8 modes"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, frac_fixed=0.02), "threshold 0.02"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, radius_fixed=2.0), "radius 2"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, squared=True), "squared distance"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, within=1.0), "with sigma"),
    (_near_any, "counts samples"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, strict=True), ">="),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, offset=0.5), "angle 0"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f, within=2.0), "expected"),
    (lambda s, r, sg, k, f: np.ones(k), "one per mode"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f) + 0.5, "whole number"),
    (lambda s, r, sg, k, f: np.float16(_coverage(s, r, sg, k, f)), "float16"),
    (lambda s, r, sg, k, f: _coverage(s, r, sg, k, f) > 0, "bool"),
])
def test_ex5_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex5", answer)
    assert passed is False and words in out, out


def test_ex5_accepts_torch_list_and_float_counts(capsys):
    for answer in [lambda *a: torch.tensor(modes_covered(*a)), lambda *a: float(modes_covered(*a)),
                   lambda s, *a: modes_covered(np.asarray(s.tolist()), *a), lambda *a: np.int32(modes_covered(*a))]:
        passed, out = _run(capsys, "ex5", answer)
        assert passed, out


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.floats(1.5, 5.0), st.floats(0.005, 0.03), st.integers(0, 2**31 - 1))
def test_ex5_reference_counts_planted_modes(n_modes, radius, sigma, seed):
    """Plant samples in a random subset of modes (well inside 3 sigma): the reference counts exactly those."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 40, n_modes) * rng.integers(0, 2, n_modes)
    if counts.sum() == 0:
        counts[0] = 5
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    samples = np.concatenate([c + rng.uniform(-1, 1, (k, 2)) * 2 * sigma for c, k in zip(centres, counts)])
    frac = float(rng.uniform(0.001, 0.5))
    want = int(np.sum(counts / counts.sum() >= frac))
    assert check._modes_covered_reference(samples, radius, sigma, n_modes, frac) == want
    assert check._modes_covered_loop(samples, radius, sigma, n_modes, frac) == want


# ---- properties of the checkers themselves -------------------------------------------------------


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["ex1", "ex3", "ex4"]),
       factor=st.floats(0.5, 2.0).filter(lambda c: abs(c - 1) > 1e-3))
def test_a_rescaled_answer_is_always_rejected(capsys, name, factor):
    ref = REFERENCE[name]

    def scaled(*args):
        out = ref(*args)
        return tuple(factor * x for x in out) if isinstance(out, tuple) else factor * out

    passed, out = _run(capsys, name, scaled)
    assert passed is False and out.startswith("✗"), out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shift=st.integers(-3, 3).filter(bool))
def test_ex5_an_off_by_some_count_is_always_rejected(capsys, shift):
    passed, out = _run(capsys, "ex5", lambda *a: modes_covered(*a) + shift)
    assert passed is False and "expected" in out, out


# ---- reviewer's cases -------------------------------------------------------------------------


def _reparameterize_float64(mu, logvar, eps):
    return check._reparameterize_reference(mu.double(), logvar.double(), eps.double())


def _kl_float32(mu, logvar):
    return check._kl_reference(mu.float(), logvar.float())


@pytest.mark.parametrize("name, answer", [("ex2", _reparameterize_float64), ("ex3", _kl_float32)])
def test_ex2_ex3_accept_another_float_precision_inside(capsys, name, answer):
    passed, out = run_checker(capsys, check, name, answer)
    assert passed, out


def _frechet_subtracts_in_place(mu1, S1, mu2, S2):
    mu1 -= mu2
    return check._frechet_reference(mu1, S1, np.zeros_like(mu2), S2)


def _modes_reorders_samples(samples, radius, sigma, n_modes, min_fraction):
    samples[:] = samples[::-1].copy()
    return check._modes_covered_reference(samples, radius, sigma, n_modes, min_fraction)


@pytest.mark.parametrize("name, answer, words", [
    ("ex4", _frechet_subtracts_in_place, "changed its argument mu1 in place"),
    ("ex5", _modes_reorders_samples, "changed the samples in place"),
])
def test_ex4_ex5_reject_answers_that_change_their_inputs(capsys, name, answer, words):
    passed, out = run_checker(capsys, check, name, answer)
    assert passed is False and words in out, out


def _modes_count_floor(samples, radius, sigma, n_modes, min_fraction):
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    near = np.linalg.norm(samples[:, None, :] - centres[None], axis=2) <= 3 * sigma
    return int((near.sum(0) >= int(min_fraction * len(samples))).sum())


def test_ex5_a_sample_count_rounded_down_fails(capsys):
    passed, out = run_checker(capsys, check, "ex5", _modes_count_floor)
    assert passed is False and "rounded down" in out and "10.625" in out, out


def _modes_within(k):
    def answer(samples, radius, sigma, n_modes, min_fraction):
        return check._modes_covered_reference(samples, radius, sigma * k / 3, n_modes, min_fraction)
    return answer


@pytest.mark.parametrize("k, words", [(2.9, "less than 3 sigma"), (3.1, "more than 3 sigma"),
                                      (4, "more than 3 sigma"), (2, "less than 3 sigma")])
def test_ex5_a_radius_other_than_3_sigma_fails(capsys, k, words):
    passed, out = run_checker(capsys, check, "ex5", _modes_within(k))
    assert passed is False and words in out, out


def _kl_axes_swapped(mu, logvar):
    return (0.5 * (mu**2 + torch.exp(logvar) - 1 - logvar)).sum(dim=0).mean()


def test_ex3_swapped_axes_are_named(capsys):
    passed, out = run_checker(capsys, check, "ex3", _kl_axes_swapped)
    assert passed is False and "axes are swapped" in out and "factor 1/2" not in out, out


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
@pytest.mark.parametrize("value", [torch.empty(3, device="meta"), torch.empty((), device="meta"), 10**400],
                         ids=["meta tensor", "0-d meta tensor", "huge int"])
def test_meta_tensors_and_huge_ints_get_feedback_not_a_checker_failure(capsys, name, value):
    passed, out = run_checker(capsys, check, name, lambda *a, **k: value)
    assert passed is False and out.startswith("✗"), out
    assert "could not be checked" not in out and "the checker itself failed" not in out, out


def _gan_negates_in_place(real_logits, fake_logits):
    """Right values, but the caller's real logits come back negated."""
    real_logits.neg_()
    return (F.softplus(real_logits).mean() + F.softplus(fake_logits).mean(),
            F.softplus(-fake_logits).mean())


def _reparameterize_into_eps(mu, logvar, eps):
    return eps.mul_(torch.exp(0.5 * logvar)).add_(mu)


def _kl_exp_in_place(mu, logvar):
    var = logvar.exp_()
    return 0.5 * (mu**2 + var - 1 - var.log()).sum(1).mean()


@pytest.mark.parametrize("name, answer, words", [
    ("ex1", _gan_negates_in_place, "changed its argument real_logits in place"),
    ("ex2", _reparameterize_into_eps, "changed its argument eps in place"),
    ("ex3", _kl_exp_in_place, "changed its argument logvar in place"),
])
def test_ex1_to_ex3_name_answers_that_write_into_their_arguments(capsys, name, answer, words):
    passed, out = run_checker(capsys, check, name, answer)
    assert passed is False and words in out, out
