"""Generative models of chapter 12: autoencoders, a VAE, GANs, and how to measure samples.

* :class:`Autoencoder`, :class:`VAE` -- small MLPs on ``(N, 1, 28, 28)`` digits in [0, 1];
  the decoders return *logits* (the image is their sigmoid). :func:`gaussian_kl`,
  :func:`vae_loss` (the negative ELBO) and :func:`train_autoencoder` (plain, denoising or
  variational) go with them.
* :func:`discriminator_loss`, :func:`generator_loss` -- the GAN losses, written with
  logits (``softplus``) so they stay finite when the discriminator is confident.
* :func:`ring_modes`, :func:`sample_ring`, :func:`mode_coverage`, :class:`RingGAN` -- the
  2-D GAN on a ring of Gaussians, one training step at a time (the chapter's widget
  drives it).
* :class:`DCGenerator`, :class:`DCDiscriminator`, :func:`train_dcgan` -- a small DCGAN.
* :func:`gaussian_stats`, :func:`frechet_distance` -- the Fréchet distance between two
  Gaussians, with the matrix square root taken through symmetric eigen-decompositions.
"""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .devices import max_steps, seed_everything
from .parallel import fork_workers, map_runs, state_from_bytes, state_to_bytes
from .vision import as_images

__all__ = [
    "VAE", "Autoencoder", "DCDiscriminator", "DCGenerator", "RingGAN", "discriminator_loss",
    "frechet_distance", "gaussian_kl", "generate", "gaussian_stats", "generator_loss", "mask_noise",
    "mode_coverage", "ring_modes", "sample_ring", "train_autoencoder", "train_dcgan", "train_ring_gans",
    "vae_loss",
]


# --------------------------------------------------------------------------- autoencoders
def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """784 -> hidden -> latent_dim -> hidden -> 784.

    ``encode(x)``: ``(N, 1, 28, 28)`` -> ``(N, latent_dim)``; ``decode(z)``: ``(N,
    latent_dim)`` -> logits ``(N, 1, 28, 28)``; ``forward(x)`` = ``decode(encode(x))``.
    """

    def __init__(self, latent_dim: int = 2, hidden: int = 256):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.encoder = _mlp([784, hidden, hidden // 2, self.latent_dim])
        self.decoder = _mlp([self.latent_dim, hidden // 2, hidden, 784])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 28, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(Autoencoder):
    """A variational autoencoder: the encoder outputs a mean and a log-variance.

    ``encode(x)`` -> ``(mu, logvar)``, each ``(N, latent_dim)``; ``forward(x)`` ->
    ``(logits, mu, logvar)`` with ``z = mu + exp(logvar / 2) * eps`` (the
    reparameterisation trick); ``sample(n)`` decodes ``z ~ N(0, I)`` into images in [0, 1].
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 256):
        super().__init__(latent_dim, hidden)
        self.encoder = _mlp([784, hidden, hidden // 2, 2 * self.latent_dim])

    def encode(self, x: torch.Tensor):
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """``mu + sigma * eps`` with ``eps ~ N(0, I)``: random, yet differentiable in mu, logvar."""
        eps = torch.randn(mu.shape, generator=generator, device="cpu").to(mu.device, mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        dev = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(dev)
        return torch.sigmoid(self.decode(z))


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example: ``(N, d)`` -> ``(N,)``.

    ``0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)`` (derived in chapter 12).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
    """The negative ELBO, averaged over the batch: ``(loss, reconstruction, kl)``.

    Reconstruction is the Bernoulli negative log-likelihood summed over the 784 pixels
    (binary cross-entropy with logits), KL is :func:`gaussian_kl`; both are per image.
    """
    rec = F.binary_cross_entropy_with_logits(logits.flatten(1), x.flatten(1),
                                             reduction="none").sum(1)
    kl = gaussian_kl(mu, logvar)
    return (rec + kl).mean(), rec.mean(), kl.mean()


def mask_noise(x: torch.Tensor, fraction: float, generator: torch.Generator | None = None):
    """Set a random ``fraction`` of the pixels of ``x`` to 0 (Vincent et al.'s masking noise)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    keep = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) >= fraction
    return x * keep


def train_autoencoder(model: Autoencoder, x, *, epochs: int, seed: int, batch_size: int = 128,
                      lr: float = 2e-3, noise: float = 0.0, device=None,
                      progress=None) -> list[float]:
    """Train an :class:`Autoencoder` (or a :class:`VAE`) in place; return the loss per epoch.

    The loss is the binary cross-entropy summed over pixels, averaged over images, plus
    the KL term for a VAE (:func:`vae_loss`). With ``noise > 0`` the encoder sees
    :func:`mask_noise`-corrupted images and the target is the clean one (a *denoising*
    autoencoder). Adam, shuffled batches from a generator seeded with ``seed``; the total
    number of steps is capped by ``DLCORE_MAX_STEPS`` when set. ``progress`` wraps the epoch
    range (for instance ``functools.partial(tqdm, leave=False)``).
    """
    xt = as_images(x)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    seed_everything(seed)
    model.to(dev).train()
    xt = xt.to(dev)
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    cap, step, history = max_steps(), 0, []
    epochs_iter = range(int(epochs)) if progress is None else progress(range(int(epochs)))
    for _ in epochs_iter:
        order = torch.randperm(len(xt), generator=gen).to(dev)
        total, seen = 0.0, 0
        for i in range(0, len(xt), batch_size):
            if cap is not None and step >= cap:
                break
            xb = xt[order[i:i + batch_size]]
            inp = mask_noise(xb, noise, gen) if noise > 0 else xb
            if isinstance(model, VAE):
                logits, mu, logvar = model(inp, gen)
                loss = vae_loss(logits, xb, mu, logvar)[0]
            else:
                loss = F.binary_cross_entropy_with_logits(
                    model(inp).flatten(1), xb.flatten(1), reduction="none").sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(xb)
            seen += len(xb)
        if seen:
            history.append(total / seen)
    model.eval()
    return history


# --------------------------------------------------------------------------- GAN losses
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-log D(x) - log(1 - D(G(z)))`` averaged, with ``D = sigmoid(logit)``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    """The generator's loss on the logits of its samples.

    ``"minimax"``: ``log(1 - D(G(z)))`` (minimised), the game's own objective;
    ``"non-saturating"``: ``-log D(G(z))``, which has the same fixed point but a strong
    gradient when D rejects the samples.
    """
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "non-saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"kind must be 'minimax' or 'non-saturating', got {kind!r}")


# --------------------------------------------------------------------------- the 2-D ring
def ring_modes(k: int = 8, radius: float = 2.0) -> np.ndarray:
    """The ``(k, 2)`` centres of ``k`` Gaussians evenly spaced on a circle."""
    angle = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def sample_ring(n: int, *, k: int = 8, radius: float = 2.0, sigma: float = 0.05,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points from an equal mixture of ``k`` isotropic Gaussians (sd ``sigma``) on a ring."""
    centres = torch.as_tensor(ring_modes(k, radius), dtype=torch.float32)
    which = torch.randint(k, (n,), generator=generator)
    return centres[which] + sigma * torch.randn(n, 2, generator=generator)


def mode_coverage(points, modes, sigma: float, *, min_fraction: float = 0.02):
    """How many modes the points cover.

    A mode is *covered* when at least ``min_fraction`` of the points lie within
    ``3 * sigma`` of its centre. Returns ``(covered, fractions, high_quality)``: the number
    of covered modes, the fraction of points near each mode ``(k,)``, and the fraction of
    points within ``3 * sigma`` of any mode.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    m = np.asarray(modes, dtype=float).reshape(-1, 2)
    if len(p) == 0:
        return 0, np.zeros(len(m)), 0.0
    near = np.linalg.norm(p[:, None, :] - m[None, :, :], axis=2) <= 3 * sigma
    fractions = near.mean(axis=0)
    return int((fractions >= min_fraction).sum()), fractions, float(near.any(axis=1).mean())


@contextlib.contextmanager
def _frozen(module: nn.Module):
    """Turn off gradients for ``module``'s parameters inside the block, then restore them.

    A generator update backpropagates through D to reach G, but D's own parameter gradients
    are not used: D's next update starts with ``zero_grad``. Without them, autograd skips the
    weight-gradient half of D's backward pass; G's gradients are the same numbers.
    """
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _MinibatchStd(nn.Module):
    """Append the batch's mean standard deviation of the features as one more feature."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        spread = h.std(dim=0, unbiased=False).mean().expand(len(h), 1)
        return torch.cat([h, spread], dim=1)


def _adam(params, lr: float) -> torch.optim.Adam:
    """Adam with betas (0.5, 0.999), fused where this torch can fuse it on the CPU (2.4 on).

    The fused update is one kernel per step instead of a Python loop over the tensors: for
    the ring GANs' tiny networks it took 11.6 against 16.5 ms a step here (one measurement,
    2 cores). It is the same algorithm, equal up to rounding.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999), fused=True)
    except (RuntimeError, TypeError, ValueError):  # torch < 2.4 fuses on CUDA only
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


class RingGAN:
    """A small GAN on the ring of Gaussians, trained a step at a time (one D update, then
    ``g_steps`` G updates).

    Args:
        d_lr, g_lr: Adam learning rates (betas 0.5, 0.999) of the discriminator and generator.
        batch_size: real and fake points per step.
        minibatch_std: give D the batch's feature spread as an extra input (the remedy).
        hidden: width of the two hidden layers of each network.
        loss: the generator loss, see :func:`generator_loss`.
        g_steps: generator updates per discriminator update.
        seed: seeds the weights and every batch.
        k, radius, sigma: the ring (see :func:`sample_ring`).
    """

    def __init__(self, *, d_lr: float = 1e-3, g_lr: float = 1e-3, batch_size: int = 128,
                 minibatch_std: bool = False, hidden: int = 128, z_dim: int = 2,
                 loss: str = "non-saturating", g_steps: int = 1, seed: int = 0, k: int = 8,
                 radius: float = 2.0, sigma: float = 0.05):
        generator_loss(torch.zeros(1), loss)  # validates the name
        torch.manual_seed(seed)
        self.k, self.radius, self.sigma, self.z_dim = k, radius, sigma, z_dim
        self.batch_size, self.loss, self.g_steps = int(batch_size), loss, int(g_steps)
        self.G = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                               nn.ReLU(), nn.Linear(hidden, 2))
        body = [nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                nn.LeakyReLU(0.2)]
        tail = [_MinibatchStd(), nn.Linear(hidden + 1, 1)] if minibatch_std else [
            nn.Linear(hidden, 1)]
        self.D = nn.Sequential(*body, *tail)
        self.opt_d = _adam(self.D.parameters(), d_lr)
        self.opt_g = _adam(self.G.parameters(), g_lr)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.z_eval = torch.randn(2000, z_dim, generator=torch.Generator().manual_seed(seed + 2))
        self.step_count = 0
        self.history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}

    def modes(self) -> np.ndarray:
        return ring_modes(self.k, self.radius)

    def real(self, n: int) -> torch.Tensor:
        return sample_ring(n, k=self.k, radius=self.radius, sigma=self.sigma,
                           generator=self.gen)

    def step(self, n: int = 1) -> None:
        """``n`` training steps, each one discriminator update then ``g_steps`` generator ones."""
        for _ in range(int(n)):
            real = self.real(self.batch_size)
            fake = self.G(torch.randn(self.batch_size, self.z_dim, generator=self.gen))
            d_loss = discriminator_loss(self.D(real), self.D(fake.detach()))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            with _frozen(self.D):
                for j in range(self.g_steps):
                    if j:
                        fake = self.G(torch.randn(self.batch_size, self.z_dim,
                                                  generator=self.gen))
                    g_loss = generator_loss(self.D(fake), self.loss)
                    self.opt_g.zero_grad(set_to_none=True)
                    g_loss.backward()
                    self.opt_g.step()
            self.history["d_loss"].append(d_loss.item())
            self.history["g_loss"].append(g_loss.item())
            self.step_count += 1

    @torch.no_grad()
    def samples(self, n: int | None = None) -> np.ndarray:
        """Generated points from a fixed set of latent vectors (2,000 unless ``n`` is smaller)."""
        z = self.z_eval if n is None else self.z_eval[:n]
        return self.G(z).numpy()

    def coverage(self):
        """:func:`mode_coverage` of :meth:`samples`."""
        return mode_coverage(self.samples(), self.modes(), self.sigma)

    def _state_bytes(self) -> bytes:
        """Everything that training changes (weights, optimizers, generator, history)."""
        return state_to_bytes({"G": self.G.state_dict(), "D": self.D.state_dict(),
                               "opt_g": self.opt_g.state_dict(),
                               "opt_d": self.opt_d.state_dict(), "gen": self.gen.get_state(),
                               "history": self.history, "step_count": self.step_count})

    def _load_state_bytes(self, data: bytes) -> None:
        state = state_from_bytes(data)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.gen.set_state(state["gen"])
        self.history = state["history"]
        self.step_count = int(state["step_count"])

    @torch.no_grad()
    def decision_surface(self, lim: float = 3.0, n: int = 60):
        """``(xs, ys, p)``: D's probability that a point is real on an ``n`` x ``n`` grid.

        With minibatch_std, D sees the whole grid as one batch, so its surface is
        the one for a batch spread like the grid.
        """
        xs = np.linspace(-lim, lim, n)
        gx, gy = np.meshgrid(xs, xs)
        grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
        return xs, xs, torch.sigmoid(self.D(grid)).numpy().reshape(n, n)


def _train_round(gan: RingGAN, every: int) -> tuple[int, float]:
    """``every`` steps, then (modes covered, fraction of points on a mode)."""
    gan.step(every)
    covered, _, on_modes = gan.coverage()
    return covered, on_modes


def _train_ring_gan_in_child(kwargs: dict, rounds: int, every: int):
    """One GAN's whole run, for a forked worker: (its state as bytes, its coverage)."""
    gan = RingGAN(**kwargs)
    coverage = [_train_round(gan, every) for _ in range(rounds)]
    return gan._state_bytes(), coverage


def train_ring_gans(settings: dict, *, steps: int, every: int = 100, workers: int = 2,
                    processes: bool | None = None, progress=None,
                    **common) -> tuple[dict, dict]:
    """Train one :class:`RingGAN` per entry of ``settings`` side by side.

    Args:
        settings: ``{name: keyword arguments of RingGAN}``; these win over ``common``.
        steps: steps per GAN, a multiple of ``every``, taken in rounds of ``every``; the
            number of rounds is capped by ``DLCORE_MAX_STEPS`` when set (as
            :func:`dlcore.torch.capped` caps a loop).
        workers: threads, or processes, that train the GANs.
        processes: ``None`` or ``True`` (the same): train each GAN in a forked process
            (:func:`dlcore.torch.parallel.map_runs`) when there is more than one GAN and
            :func:`dlcore.torch.parallel.fork_workers` allows a fork (Linux, no CUDA GPU,
            not inside a worker, ``DLCORE_WORKERS`` not 1), and in threads otherwise;
            ``False``: always threads.
        progress: a factory such as ``functools.partial(tqdm, leave=False)``, called with
            ``total=`` (the number of rounds of all GANs) and updated after each round
            (with processes, by a GAN's rounds when it finishes).
        common: keyword arguments for every GAN (``seed``, ``sigma``, ...).

    Returns:
        ``(gans, coverage)``: ``{name: RingGAN}``, and ``{name: [(modes covered, fraction of
        points on a mode), ...]}`` from :meth:`RingGAN.coverage` after every round.

    Building a RingGAN reseeds torch's global generator with its ``seed``, and a step draws
    every batch from the GAN's own generator, never from the global one, so each GAN's run
    depends on its own settings only. With threads, the GANs are built one after another in
    the calling thread, then stepped in ``workers`` threads with torch's intra-op thread
    count set to 1 for the duration (restored afterwards); PyTorch releases Python's GIL
    inside its operations, but with networks this small the threads still spend much of
    their time waiting for it. With processes, each child builds and trains its GAN with one
    intra-op thread and sends back the trained state (weights, optimizer states, generator
    state, history), which is loaded into a GAN built here. Either way the result equals
    that of a serial run with one intra-op thread (tested). When one GAN fails, or the
    caller is interrupted, the others stop (threads: at the end of their current round)
    and the error is raised.
    """
    steps, every = int(steps), int(every)
    if every < 1 or steps < every or steps % every:
        raise ValueError(f"steps must be a positive multiple of every >= 1, got "
                         f"steps={steps}, every={every}")
    cap = max_steps()
    rounds = steps // every if cap is None else min(steps // every, cap)
    kwargs = {name: {**common, **kw} for name, kw in settings.items()}
    workers = max(1, int(workers))
    if processes is not False and len(kwargs) > 1 and fork_workers(workers) > 1:
        bar = progress(total=rounds * len(kwargs)) if progress is not None else None

        class _PerGAN:      # map_runs reports finished GANs; the bar counts rounds
            def __init__(self, total):
                pass

            def update(self, n):
                if bar is not None:
                    bar.update(n * rounds)

            def close(self):
                if bar is not None:
                    bar.close()

        results = map_runs(_train_ring_gan_in_child,
                           [(kw, rounds, every) for kw in kwargs.values()],
                           workers=workers, progress=_PerGAN)
        # built here in the caller's order, as with threads, then given the trained state
        gans = {name: RingGAN(**kw) for name, kw in kwargs.items()}
        for gan, (state, _) in zip(gans.values(), results):
            gan._load_state_bytes(state)
        return gans, {name: cov for name, (_, cov) in zip(kwargs, results)}
    gans = {name: RingGAN(**kw) for name, kw in kwargs.items()}
    coverage: dict[str, list] = {name: [] for name in gans}
    bar = progress(total=rounds * len(gans)) if progress is not None else None
    lock, stop = threading.Lock(), threading.Event()

    def train(name):
        gan = gans[name]
        for _ in range(rounds):
            if stop.is_set():
                return
            coverage[name].append(_train_round(gan, every))
            if bar is not None:
                with lock:
                    bar.update(1)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(train, name) for name in gans]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            if f.done() and f.exception() is not None:
                raise f.exception()
        for f in futures:
            f.result()
    except BaseException:  # a worker's error, or Ctrl-C in the caller: stop the others
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()
    return gans, coverage


# --------------------------------------------------------------------------- DCGAN
class DCGenerator(nn.Module):
    """``z (N, z_dim)`` -> images ``(N, 1, 28, 28)`` in [0, 1]: linear, then two
    transposed convolutions (7 -> 14 -> 28) with batch norm and ReLU, then a sigmoid."""

    def __init__(self, z_dim: int = 32, width: int = 64):
        super().__init__()
        self.z_dim = int(z_dim)
        self.fc = nn.Sequential(nn.Linear(z_dim, 2 * width * 49), nn.BatchNorm1d(2 * width * 49),
                                nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Sigmoid())
        self.width = width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 2 * self.width, 7, 7))


class DCDiscriminator(nn.Module):
    """Images ``(N, 1, 28, 28)`` -> logits ``(N,)``: two strided convolutions with leaky ReLU
    (28 -> 14 -> 7), then a linear layer."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 49, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def train_dcgan(x, *, steps: int, seed: int, batch_size: int = 64, lr: float = 2e-4,
                z_dim: int = 32, width: int = 64, snapshots=(), n_fixed: int = 16, device=None,
                progress=None):
    """Train a DCGAN on images ``x`` for ``steps`` steps; return ``(G, D, history)``.

    Adam (lr ``lr``, betas 0.5, 0.999) for both networks, one D then one G update per step,
    the non-saturating generator loss. ``history`` holds ``d_loss``, ``g_loss``, ``d_real``
    and ``d_fake`` (D's mean probability on real and generated images) per step, and
    ``snapshots``: ``{step: images}`` of ``n_fixed`` samples from fixed latent vectors at
    each step listed (0 = before training). The step count is capped by
    ``DLCORE_MAX_STEPS`` when set. ``progress`` wraps the step range.
    """
    xt = as_images(x)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    cap = max_steps()
    steps = int(steps) if cap is None else min(int(steps), cap)
    seed_everything(seed)
    G, D = DCGenerator(z_dim, width).to(dev), DCDiscriminator(width).to(dev)
    xt = xt.to(dev)
    gen = torch.Generator().manual_seed(int(seed))
    fixed = torch.randn(n_fixed, z_dim, generator=gen).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    hist = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": [], "snapshots": {}}
    want = set(int(s) for s in snapshots)

    def snap(step):
        if step in want:
            G.eval()
            with torch.no_grad():
                hist["snapshots"][step] = G(fixed).cpu()
            G.train()

    snap(0)
    per_epoch = math.ceil(len(xt) / batch_size)
    order = torch.randperm(len(xt), generator=gen).to(dev)
    rng = range(steps) if progress is None else progress(range(steps))
    for step in rng:
        j = step % per_epoch
        if j == 0 and step:
            order = torch.randperm(len(xt), generator=gen).to(dev)
        real = xt[order[j * batch_size:(j + 1) * batch_size]]
        z = torch.randn(len(real), z_dim, generator=gen).to(dev)
        fake = G(z)
        real_logits, fake_logits = D(real), D(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with _frozen(D):
            g_loss = generator_loss(D(fake))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        opt_g.step()
        hist["d_loss"].append(d_loss.item())
        hist["g_loss"].append(g_loss.item())
        hist["d_real"].append(torch.sigmoid(real_logits).mean().item())
        hist["d_fake"].append(torch.sigmoid(fake_logits).mean().item())
        snap(step + 1)
    return G.eval(), D.eval(), hist


@torch.no_grad()
def generate(G: DCGenerator, n: int, *, seed: int, batch_size: int = 500) -> torch.Tensor:
    """``n`` images from ``G`` (eval mode) with latent vectors drawn from a seeded generator."""
    dev = next(G.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    G.eval()
    out = [G(torch.randn(min(batch_size, n - i), G.z_dim, generator=gen).to(dev)).cpu()
           for i in range(0, n, batch_size)]
    return torch.cat(out) if out else torch.zeros(0, 1, 28, 28)


# --------------------------------------------------------------------------- Fréchet distance
def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` (float64, ``ddof=1``) of ``(N, d)`` features."""
    f = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features,
                   dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must have shape (N, d) with N >= 2, got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Fréchet (2-Wasserstein) distance squared between N(mu1, cov1) and N(mu2, cov2).

    ``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``. The trace of the square root
    is computed as ``tr((S1^(1/2) cov2 S1^(1/2))^(1/2))`` with ``S1^(1/2)`` the symmetric root
    of cov1: the inner matrix is symmetric positive semi-definite, so the eigenvalues are
    real and non-negative (clipped at 0 against round-off), unlike those of the
    non-symmetric product ``cov1 cov2``. The result is clipped at 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    c1, c2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    if mu1.shape != mu2.shape or c1.shape != c2.shape or c1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; "
                         f"cov {c1.shape}, {c2.shape}")
    r1 = _psd_sqrt(c1)
    inner = np.linalg.eigvalsh(r1 @ c2 @ r1)
    tr_sqrt = np.sqrt(np.clip(inner, 0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * tr_sqrt)
    return max(d, 0.0)
