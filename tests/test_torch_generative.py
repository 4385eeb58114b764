"""dlcore.torch.generative (chapter 12): losses, the Fréchet distance, the ring and the models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.torch.generative import (
    VAE,
    Autoencoder,
    DCDiscriminator,
    DCGenerator,
    RingGAN,
    discriminator_loss,
    frechet_distance,
    gaussian_kl,
    gaussian_stats,
    generate,
    generator_loss,
    mask_noise,
    mode_coverage,
    ring_modes,
    sample_ring,
    train_autoencoder,
    train_dcgan,
    train_ring_gans,
    vae_loss,
)
from dlcore.torch.parallel import fork_workers


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10_000))
def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians(d, seed):
    rng = np.random.default_rng(seed)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = rng.random(d) * 3, rng.random(d) * 3
    closed = ((m1 - m2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    assert frechet_distance(m1, np.diag(s1 ** 2), m2, np.diag(s2 ** 2)) == pytest.approx(
        closed, rel=1e-7, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_and_is_zero_for_equal_gaussians():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 20, 30))
    c1, c2 = a @ a.T / 30, b @ b.T / 30
    mu = rng.normal(size=20)
    ref = np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(mu, c1, mu, c2) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(mu, c1, mu, c1) == pytest.approx(0.0, abs=1e-9)
    # a rank-deficient covariance (more dimensions than samples) stays real and >= 0
    f = rng.normal(size=(5, 20))
    m, c = gaussian_stats(f)
    assert frechet_distance(m, c, m, c) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(m, c, mu, c2) > 0
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu, c1, mu[:3], c2)
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(np.ones((1, 3)))


def test_gaussian_kl_formula_and_zero_at_the_prior():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), ref, atol=1e-5)
    assert torch.equal(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_vae_loss_is_reconstruction_plus_kl_and_reparameterisation_is_differentiable():
    vae = VAE(latent_dim=3, hidden=16)
    x = torch.rand(6, 1, 28, 28)
    logits, mu, logvar = vae(x, torch.Generator().manual_seed(0))
    assert logits.shape == (6, 1, 28, 28) and mu.shape == logvar.shape == (6, 3)
    loss, rec, kl = vae_loss(logits, x, mu, logvar)
    assert loss.item() == pytest.approx(rec.item() + kl.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())
    assert vae.sample(5).shape == (5, 1, 28, 28)
    assert 0 <= vae.sample(5).min() and vae.sample(5).max() <= 1


def test_gan_losses_and_their_gradients():
    s = torch.tensor([-10.0, -2.0, 0.0, 3.0], requires_grad=True)
    (generator_loss(s, "minimax") * 4).backward()
    assert torch.allclose(s.grad, -torch.sigmoid(s.detach()))   # d/ds log(1 - sigmoid(s))
    s.grad = None
    (generator_loss(s, "non-saturating") * 4).backward()
    assert torch.allclose(s.grad, torch.sigmoid(s.detach()) - 1)
    assert torch.isfinite(discriminator_loss(torch.tensor([1e4]), torch.tensor([-1e4])))
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(
        2 * np.log(2))
    with pytest.raises(ValueError, match="kind"):
        generator_loss(s, "wasserstein")


def test_mode_coverage_counts_modes_by_the_two_percent_rule():
    modes = ring_modes(8, 2.0)
    assert np.allclose(np.linalg.norm(modes, axis=1), 2.0)
    pts = sample_ring(4000, sigma=0.05, generator=torch.Generator().manual_seed(0))
    covered, fractions, hq = mode_coverage(pts, modes, 0.05)
    assert covered == 8 and hq > 0.98 and fractions.sum() == pytest.approx(hq)
    one = np.repeat(modes[:1], 100, axis=0)
    assert mode_coverage(one, modes, 0.05)[0] == 1
    # 1 point in 100 near a second mode is below 2%; 2 in 100 is enough
    few = np.concatenate([np.repeat(modes[:1], 98, axis=0), np.repeat(modes[1:2], 2, axis=0)])
    assert mode_coverage(few, modes, 0.05)[0] == 2
    assert mode_coverage(few[1:], modes, 0.05, min_fraction=0.03)[0] == 1
    assert mode_coverage(np.zeros((0, 2)), modes, 0.05)[0] == 0


def test_ring_gan_steps_are_reproducible_and_finite():
    a, b = RingGAN(seed=3, hidden=16, batch_size=32), RingGAN(seed=3, hidden=16, batch_size=32)
    a.step(5)
    b.step(5)
    assert a.step_count == 5 and len(a.history["d_loss"]) == 5
    assert np.array_equal(a.samples(), b.samples())
    xs, ys, p = RingGAN(seed=0, hidden=8, minibatch_std=True, g_steps=2).decision_surface(n=7)
    assert p.shape == (7, 7) and ((0 < p) & (p < 1)).all()
    with pytest.raises(ValueError):
        RingGAN(loss="nope")


def test_autoencoders_train_and_denoise_shapes():
    x = torch.rand(64, 1, 28, 28)
    ae = Autoencoder(latent_dim=2, hidden=16)
    hist = train_autoencoder(ae, x, epochs=3, seed=0, noise=0.3)
    assert len(hist) == 3 and np.isfinite(hist).all() and not ae.training
    assert ae.encode(x).shape == (64, 2)
    masked = mask_noise(torch.ones(1000), 0.5, torch.Generator().manual_seed(0))
    assert 0.4 < masked.mean() < 0.6 and set(masked.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError):
        mask_noise(x, 1.0)


def test_dcgan_shapes_snapshots_and_step_cap(monkeypatch):
    G, D = DCGenerator(z_dim=4, width=8), DCDiscriminator(width=8)
    img = G(torch.randn(3, 4))
    assert img.shape == (3, 1, 28, 28) and 0 <= img.min() and img.max() <= 1
    assert D(img).shape == (3,)
    monkeypatch.setenv("DLCORE_MAX_STEPS", "2")
    G, D, hist = train_dcgan(torch.rand(40, 784), steps=50, seed=0, batch_size=16, z_dim=4,
                             width=8, snapshots=[0, 2], n_fixed=3)
    assert len(hist["d_loss"]) == 2 and sorted(hist["snapshots"]) == [0, 2]
    assert generate(G, 7, seed=0).shape == (7, 1, 28, 28)
    assert torch.equal(generate(G, 7, seed=0), generate(G, 7, seed=0))


def test_train_ring_gans_in_threads_equals_a_serial_run():
    arms = {"a": {}, "b": {"g_steps": 2}, "c": {"g_steps": 2, "minibatch_std": True}}
    common = {"seed": 1, "hidden": 32, "batch_size": 64, "sigma": 0.1}
    before = torch.get_num_threads()
    torch.set_num_threads(2)   # so that restoring it is visible even on a 1-core runner
    try:
        gans, cov = train_ring_gans(arms, steps=40, every=10, processes=False, **common)
        assert torch.get_num_threads() == 2
        forked, fcov = train_ring_gans(arms, steps=40, every=10, processes=True, **common)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for name, kw in arms.items():
        ref = RingGAN(**common, **kw)
        serial = []
        for _ in range(4):
            ref.step(10)
            covered, _, on_modes = ref.coverage()
            serial.append((covered, on_modes))
        assert cov[name] == serial
        assert gans[name].step_count == 40
        assert np.array_equal(gans[name].samples(), ref.samples())
        assert gans[name].history == ref.history
        assert fcov[name] == serial and forked[name].history == ref.history
        assert forked[name].step_count == 40
        assert np.array_equal(forked[name].samples(), ref.samples())
        # the trained state came back whole: one more step continues exactly alike
        forked[name].step(3)
        ref.step(3)
        assert np.array_equal(forked[name].samples(), ref.samples())


def test_train_ring_gans_steps_in_worker_threads_with_one_intra_op_thread(monkeypatch):
    import threading

    seen = []
    original = RingGAN.step

    def spy(self, n=1):
        seen.append((threading.get_ident(), torch.get_num_threads()))
        original(self, n)

    monkeypatch.setattr(RingGAN, "step", spy)
    train_ring_gans({"a": {}, "b": {}}, steps=4, every=2, hidden=4, batch_size=8,
                    processes=False)
    assert len(seen) == 4 and {t for _, t in seen} == {1}
    assert threading.get_ident() not in {i for i, _ in seen}


def test_train_ring_gans_rounds_are_capped_by_max_steps(monkeypatch):
    monkeypatch.setenv("DLCORE_MAX_STEPS", "1")
    gans, cov = train_ring_gans({"a": {}}, steps=4, every=2, hidden=4, batch_size=8)
    assert gans["a"].step_count == 2 and len(cov["a"]) == 1


def test_train_ring_gans_stops_the_others_and_raises_when_one_fails(monkeypatch):
    original = RingGAN.step

    calls = []

    def step(self, n=1):
        if self.g_steps == 3:
            raise FloatingPointError("broken GAN")
        calls.append(self.batch_size)
        original(self, n)

    monkeypatch.setattr(RingGAN, "step", step)
    closed = []

    class Bar:
        def __init__(self, total):
            pass

        def update(self, n):
            pass

        def close(self):
            closed.append(True)

    before = torch.get_num_threads()
    with pytest.raises(FloatingPointError, match="broken GAN"):
        train_ring_gans({"bad": {"g_steps": 3}, "ok": {}, "queued": {}}, steps=2000, every=1,
                        workers=2, hidden=4, batch_size=8, progress=Bar, processes=False)
    assert torch.get_num_threads() == before and closed == [True]
    assert len(calls) < 200   # of the 4,000 rounds the other two would have taken


def test_train_ring_gans_rejects_bad_rounds_and_reports_progress():
    for steps, every in ((2, 3), (5, 0), (250, 100)):
        with pytest.raises(ValueError, match="multiple of every"):
            train_ring_gans({"a": {}}, steps=steps, every=every, hidden=4)
    updates = []

    class Bar:
        def __init__(self, total):
            updates.append(("total", total))

        def update(self, n):
            updates.append(n)

        def close(self):
            updates.append("closed")

    train_ring_gans({"a": {}, "b": {}}, steps=4, every=2, hidden=4, batch_size=8, progress=Bar,
                    processes=False)
    assert updates[0] == ("total", 4) and updates[1:-1] == [1] * 4 and updates[-1] == "closed"
    updates.clear()
    train_ring_gans({"a": {}, "b": {}}, steps=4, every=2, hidden=4, batch_size=8, progress=Bar,
                    processes=True)
    if fork_workers(2) > 1:      # processes: each finished GAN reports its 2 rounds
        assert updates[0] == ("total", 4) and updates[1:-1] == [2, 2]
    assert updates[-1] == "closed"


def test_ring_gan_settings_win_over_common_keywords():
    gans, _ = train_ring_gans({"a": {"batch_size": 8}}, steps=1, every=1, hidden=4,
                              batch_size=16)
    assert gans["a"].batch_size == 8


def test_freezing_d_during_g_updates_changes_no_number(monkeypatch):
    """D's parameter gradients are skipped in G's updates: same histories, bit for bit."""
    import contextlib

    import dlcore.torch.generative as gen

    x = torch.rand(64, 1, 28, 28)

    def both():
        g = gen.RingGAN(g_steps=2, seed=3, sigma=0.1, batch_size=16, hidden=8)
        g.step(6)
        _, _, h = gen.train_dcgan(x, steps=4, seed=1, width=4, batch_size=16)
        return g.history, g.samples(), h["d_loss"], h["g_loss"]

    frozen = both()
    monkeypatch.setattr(gen, "_frozen", lambda module: contextlib.nullcontext(module))
    plain = both()
    assert frozen[0] == plain[0] and frozen[2:] == plain[2:]
    assert np.array_equal(frozen[1], plain[1])


def test_frozen_restores_requires_grad_even_after_an_error():
    from dlcore.torch.generative import _frozen

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    net[1].bias.requires_grad_(False)
    with pytest.raises(RuntimeError):
        with _frozen(net):
            assert not any(p.requires_grad for p in net.parameters())
            raise RuntimeError("boom")
    assert [p.requires_grad for p in net.parameters()] == [True, True, True, False]


needs_fork = pytest.mark.skipif(fork_workers(2) == 1,
                                reason="processes only where map_runs can fork")


@pytest.fixture
def forked_calls(monkeypatch):
    """Record that train_ring_gans went through map_runs (the process path)."""
    import dlcore.torch.generative as gen

    calls, real = [], gen.map_runs

    def spy(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "map_runs", spy)
    return calls


@needs_fork
def test_train_ring_gans_in_processes_equals_threads(forked_calls):
    arms = {"a": {}, "b": {"g_steps": 2, "minibatch_std": True}}
    common = {"seed": 2, "hidden": 16, "batch_size": 32, "sigma": 0.1}
    threads, tcov = train_ring_gans(arms, steps=30, every=10, processes=False, **common)
    assert forked_calls == []
    forked, fcov = train_ring_gans(arms, steps=30, every=10, processes=True, **common)
    assert forked_calls == [2] and fcov == tcov
    for name in arms:
        assert forked[name].history == threads[name].history
        assert np.array_equal(forked[name].samples(), threads[name].samples())


@needs_fork
def test_train_ring_gans_in_processes_raises_a_failing_gans_error(monkeypatch):
    original = RingGAN.step

    def step(self, n=1):            # inherited by the forked children
        if self.g_steps == 3:
            raise FloatingPointError("broken GAN")
        original(self, n)

    monkeypatch.setattr(RingGAN, "step", step)
    with pytest.raises(FloatingPointError, match="broken GAN"):
        train_ring_gans({"bad": {"g_steps": 3}, "ok": {}}, steps=4, every=2, hidden=4,
                        batch_size=8, processes=True)


@needs_fork
def test_train_ring_gans_in_processes_is_capped_by_max_steps(monkeypatch, forked_calls):
    monkeypatch.setenv("DLCORE_MAX_STEPS", "1")
    gans, cov = train_ring_gans({"a": {}, "b": {"g_steps": 2}}, steps=4, every=2, hidden=4,
                                batch_size=8, processes=True)
    assert all(g.step_count == 2 for g in gans.values())
    assert all(len(c) == 1 for c in cov.values()) and forked_calls == [2]
