"""Character-level language models on real names (chapter 10; chapter 11 reuses them).

Everything a names model needs so that every model of chapters 10 and 11 is scored
on the SAME split with the SAME metric:

* :func:`names_split` -- a fixed split of :func:`dlcore.data.load_names` BY NAME
  (each distinct name lands in exactly one of train / validation / test).
* :class:`CharVocab` -- the characters plus one boundary token ``"."`` (index 0),
  which marks both the start and the end of a name.
* :func:`encode_batch` -- names as padded ``(B, T)`` input and target id tensors.
* :func:`nll_per_char` -- the held-out metric (see its docstring for exactly what is
  averaged).
* :class:`BigramModel` -- the count bigram with add-alpha smoothing.
* :class:`ContextMLP` -- the MLP on the last few characters (Bengio et al. 2003).
* :class:`CharLSTM` and :func:`train_char_lm` -- the LSTM language model and its
  training loop with early stopping on validation NLL.
* :func:`sample_names` -- sampling with temperature, top-k and a prefix.

The model protocol: a language model is any callable ``model(x)`` taking a
``(B, T)`` LongTensor of input ids (position 0 is the boundary token, then the
name's characters) and returning ``(B, T, V)`` scores whose ``log_softmax`` over the
last axis is the model's log-probability of the next character at each position.
It must be causal: the output at position t may depend only on ``x[:, : t + 1]``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .devices import max_steps as _max_steps

__all__ = [
    "BOUNDARY",
    "BigramModel",
    "CharLSTM",
    "CharVocab",
    "ContextMLP",
    "LMHistory",
    "encode_batch",
    "names_split",
    "nll_per_char",
    "sample_names",
    "train_char_lm",
]

BOUNDARY = "."


def _check_names(names, what: str = "names") -> list[str]:
    if isinstance(names, str):
        raise TypeError(f"{what} must be a list of strings, got a single string {names!r}")
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"{what} must be a list of strings, got {type(names).__name__}") from None
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"{what}[{i}] must be a string, got {type(name).__name__} {name!r}")
        if not name:
            raise ValueError(f"{what}[{i}] is an empty string; every name needs at least one character")
        if BOUNDARY in name:
            raise ValueError(f"{what}[{i}] = {name!r} contains the boundary token {BOUNDARY!r}")
    return names


def names_split(seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                names: Sequence[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """The book's fixed split of the names, BY NAME: ``(train, val, test)`` lists.

    Duplicates are removed first (keeping the first occurrence), so no name can be
    in two parts. The distinct names are shuffled with ``numpy.random.default_rng(seed)``
    and cut at ``fractions`` (default 80/10/10: 4,130 / 516 / 517 of the 5,163 names).
    The same seed always gives the same split.

    Args:
        seed: the shuffle seed (0 is the book's split).
        fractions: three non-negative numbers summing to 1.
        names: the names to split (default :func:`dlcore.data.load_names`).
    """
    if names is None:
        from dlcore.data import load_names  # noqa: PLC0415

        names = load_names(verbose=False)
    names = _check_names(names)
    if len(fractions) != 3:
        raise ValueError(f"fractions must be 3 numbers (train, val, test), got {len(fractions)}: {fractions}")
    fr = [float(f) for f in fractions]
    if min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions} (sum {sum(fr)})")
    unique = list(dict.fromkeys(names))
    order = np.random.default_rng(int(seed)).permutation(len(unique))
    shuffled = [unique[i] for i in order]
    n_train = int(round(fr[0] * len(unique)))
    n_val = int(round(fr[1] * len(unique)))
    return shuffled[:n_train], shuffled[n_train:n_train + n_val], shuffled[n_train + n_val:]


class CharVocab:
    """Characters <-> ids, with the boundary token ``"."`` at id 0.

    ``CharVocab()`` is the lowercase alphabet (27 tokens), which covers every name of
    :func:`dlcore.data.load_names`; ``CharVocab.from_names(names)`` uses the
    characters that occur.
    """

    def __init__(self, chars: str = "abcdefghijklmnopqrstuvwxyz"):
        chars = "".join(sorted(set(chars)))
        if BOUNDARY in chars:
            raise ValueError(f"chars must not contain the boundary token {BOUNDARY!r}")
        if not chars:
            raise ValueError("chars is empty: a vocabulary needs at least one character")
        self.itos = [BOUNDARY, *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self.boundary = 0

    @classmethod
    def from_names(cls, names: Sequence[str]) -> CharVocab:
        return cls("".join(set("".join(_check_names(names)))))

    @property
    def size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size}, chars={''.join(self.itos[1:])!r})"

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text`` (no boundary added)."""
        unknown = sorted({c for c in text if c not in self.stoi or c == BOUNDARY})
        if unknown:
            raise ValueError(f"{text!r} has characters outside the vocabulary: {unknown} "
                             f"(vocabulary: {''.join(self.itos[1:])!r})")
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)


def encode_batch(names: Sequence[str], vocab: CharVocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Names as ``(x, y)``, two ``(B, T)`` LongTensors with ``T = longest name + 1``.

    ``x[b] = [., c1, ..., cn, pad...]`` and ``y[b] = [c1, ..., cn, ., -1...]``: the
    target at each position is the next character, the last one is the end token,
    and padding targets are ``-1`` (ignored by ``cross_entropy(ignore_index=-1)``).
    Padding inputs are the boundary id (never read for a real target by a causal model).
    """
    names = _check_names(names)
    if not names:
        raise ValueError("names is empty")
    T = max(len(n) for n in names) + 1
    x = torch.zeros(len(names), T, dtype=torch.long)
    y = torch.full((len(names), T), -1, dtype=torch.long)
    for b, name in enumerate(names):
        ids = vocab.encode(name)
        x[b, 1:len(ids) + 1] = torch.tensor(ids, dtype=torch.long)
        y[b, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        y[b, len(ids)] = vocab.boundary
    return x, y


def _model_device(model) -> torch.device:
    if isinstance(model, nn.Module):
        for t in [*model.parameters(), *model.buffers()]:
            return t.device
    return torch.device("cpu")


def _sum_nll(model, names, vocab, batch_size) -> tuple[float, int]:
    dev = _model_device(model)
    total, count = 0.0, 0
    for start in range(0, len(names), batch_size):
        x, y = encode_batch(names[start:start + batch_size], vocab)
        x, y = x.to(dev), y.to(dev)
        out = model(x)
        if not isinstance(out, torch.Tensor) or out.shape != (*x.shape, vocab.size):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"model(x) must return scores of shape (B, T, V) = "
                             f"{(*x.shape, vocab.size)} for x of shape {tuple(x.shape)}, got {got}")
        logp = torch.log_softmax(out.double(), dim=-1)
        mask = y >= 0
        picked = logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        total += float(-(picked * mask).sum())
        count += int(mask.sum())
    return total, count


def nll_per_char(model_or_fn: Callable[[torch.Tensor], torch.Tensor], names: Sequence[str],
                 vocab: CharVocab | None = None, *, batch_size: int = 512) -> float:
    """Mean negative log-likelihood per predicted character, in nats.

    What is averaged: for every name ``c1 ... cn`` the model predicts n + 1 tokens,
    ``c1`` given the start token, ``c2`` given ``. c1``, ..., and finally the END
    token given ``. c1 ... cn``. The result is the sum of ``-log p`` over all these
    predictions of all names, divided by their number ``sum(len(name) + 1)``. The
    start token itself is never predicted. (Natural log; divide by ``ln 2`` for bits.)

    Args:
        model_or_fn: a language model following the module's protocol (``(B, T)`` ids
            -> ``(B, T, V)`` scores; log-softmax is applied here). Evaluated under
            ``torch.no_grad()`` and, if it is an ``nn.Module``, in eval mode (its mode
            is restored afterwards).
        names: the names to score (a non-empty list of strings).
        vocab: default ``model_or_fn.vocab`` if it has one, else :class:`CharVocab()`.
    """
    names = _check_names(names)
    if not names:
        raise ValueError("names is empty: there is nothing to average")
    if not callable(model_or_fn):
        raise TypeError(f"model_or_fn must be callable (x -> scores), got {type(model_or_fn).__name__}")
    vocab = vocab or getattr(model_or_fn, "vocab", None) or CharVocab()
    was_training = isinstance(model_or_fn, nn.Module) and model_or_fn.training
    if isinstance(model_or_fn, nn.Module):
        model_or_fn.eval()
    try:
        with torch.no_grad():
            total, count = _sum_nll(model_or_fn, names, vocab, batch_size)
    finally:
        if was_training:
            model_or_fn.train()
    return total / count


class BigramModel(nn.Module):
    """Count bigram with add-alpha smoothing: ``P(b | a) = (N(a, b) + alpha) / (N(a) + alpha V)``.

    ``N(a, b)`` counts how often ``b`` follows ``a`` in the training names, with the
    boundary token before the first and after the last character. Call
    :meth:`fit` first; ``model(x)`` then returns the log-probability table's rows
    ``log P(. | x[b, t])`` (already normalised, so ``log_softmax`` leaves them unchanged).
    """

    def __init__(self, alpha: float = 1.0, vocab: CharVocab | None = None):
        super().__init__()
        alpha = float(alpha)
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
        self.alpha = alpha
        self.vocab = vocab or CharVocab()
        V = self.vocab.size
        self.register_buffer("counts", torch.zeros(V, V, dtype=torch.float64))
        self.register_buffer("log_probs", torch.full((V, V), -math.log(V), dtype=torch.float64))
        self.fitted = False

    def fit(self, names: Sequence[str]) -> BigramModel:
        x, y = encode_batch(names, self.vocab)
        mask = y >= 0
        counts = torch.zeros_like(self.counts)
        V = self.vocab.size
        flat = x[mask] * V + y[mask]
        counts.view(-1).index_add_(0, flat, torch.ones(flat.numel(), dtype=torch.float64))
        smoothed = counts + self.alpha
        rows = smoothed.sum(1, keepdim=True)
        # a row never seen with alpha = 0 has no estimate: it is left uniform
        log_probs = torch.where(rows > 0, torch.log(smoothed) - torch.log(rows.clamp(min=1e-300)),
                                torch.full_like(smoothed, -math.log(V)))
        self.counts.copy_(counts)
        self.log_probs.copy_(log_probs)
        self.fitted = True
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError("BigramModel is not fitted: call model.fit(train_names) first")
        if x.dtype != torch.long or x.dim() != 2:
            raise ValueError(f"x must be a (B, T) LongTensor of ids, got {x.dtype} of shape {tuple(x.shape)}")
        return self.log_probs[x]


class ContextMLP(nn.Module):
    """Bengio-style MLP language model: embed the last ``context`` ids, one tanh layer.

    ``model(x)`` maps ``(B, T)`` ids to ``(B, T, V)`` logits; the output at position t
    reads ``x[:, t - context + 1 : t + 1]``, with boundary ids (0) standing in before the
    start. The defaults (context 3, embedding 10, hidden 128, 27 tokens) have 7,721
    parameters.
    """

    def __init__(self, context: int = 3, embed: int = 10, hidden: int = 128,
                 vocab: CharVocab | None = None):
        super().__init__()
        for name, value in (("context", context), ("embed", embed), ("hidden", hidden)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.context, self.vocab = int(context), vocab or CharVocab()
        self.embedding = nn.Embedding(self.vocab.size, embed)
        self.net = nn.Sequential(nn.Linear(self.context * embed, hidden), nn.Tanh(),
                                 nn.Linear(hidden, self.vocab.size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.long or x.dim() != 2:
            raise ValueError(f"x must be a (B, T) LongTensor of ids, got {x.dtype} of shape {tuple(x.shape)}")
        padded = nn.functional.pad(x, (self.context - 1, 0))   # boundary id is 0
        windows = padded.unfold(1, self.context, 1)             # (B, T, context)
        return self.net(self.embedding(windows).flatten(2))


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> linear head: the character language model of chapter 10.

    ``model(x)`` maps ``(B, T)`` ids to ``(B, T, V)`` logits. The defaults
    (embedding 32, hidden 144, 1 layer, 27 tokens) have about 105k parameters.
    """

    def __init__(self, vocab: CharVocab | None = None, embed: int = 32, hidden: int = 144,
                 layers: int = 1, dropout: float = 0.0):
        super().__init__()
        for name, value in (("embed", embed), ("hidden", hidden), ("layers", layers)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.vocab = vocab or CharVocab()
        self.embedding = nn.Embedding(self.vocab.size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, self.vocab.size)

    def forward(self, x: torch.Tensor, state=None, return_state: bool = False):
        if x.dtype != torch.long or x.dim() != 2:
            raise ValueError(f"x must be a (B, T) LongTensor of ids, got {x.dtype} of shape {tuple(x.shape)}")
        out, state = self.lstm(self.embedding(x), state)
        logits = self.head(out)
        return (logits, state) if return_state else logits


@dataclass
class LMHistory:
    """What :func:`train_char_lm` returns: per-epoch train and validation NLL (nats/char)."""

    train_nll: list[float] = field(default_factory=list)
    val_nll: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch whose weights were restored
    best_val: float = float("inf")
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.val_nll)

    @property
    def best_seconds(self) -> float:
        """Cumulative training time up to the end of the best epoch."""
        return float(sum(self.seconds[:self.best_epoch]))


def train_char_lm(model: nn.Module, train: Sequence[str], val: Sequence[str], *, max_epochs: int = 30,
                  seed: int = 0, lr: float = 3e-3, batch_size: int = 64, patience: int = 3,
                  clip: float | None = 1.0, weight_decay: float = 0.0, vocab: CharVocab | None = None,
                  verbose: bool = False) -> LMHistory:
    """Train a character language model with Adam, early-stopping on validation NLL.

    Each epoch shuffles ``train`` (``torch.Generator`` seeded with ``seed``), takes
    minibatches of ``batch_size`` names, minimises the mean cross-entropy over all
    predicted characters (as :func:`nll_per_char` counts them), clips the global
    gradient norm to ``clip`` (None: no clipping), then measures
    ``nll_per_char(model, val)``. Training stops after ``patience`` epochs without a
    new best, or after ``max_epochs``; the weights of the best epoch are restored in
    place. ``train_nll`` is the mean training loss over each epoch's batches (with
    dropout, if any, active). Batches per epoch are capped by ``DLCORE_MAX_STEPS``.
    """
    train, val = _check_names(train, "train"), _check_names(val, "val")
    if not train or not val:
        raise ValueError(f"train and val must be non-empty, got {len(train)} and {len(val)} names")
    if int(max_epochs) != max_epochs or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
    if int(patience) != patience or patience < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}")
    if not (lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    vocab = vocab or getattr(model, "vocab", None) or CharVocab()
    dev = _model_device(model)
    torch.manual_seed(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    cap = _max_steps()
    history = LMHistory()
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    for epoch in range(1, int(max_epochs) + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        losses = []
        for step, i in enumerate(range(0, len(train), batch_size)):
            if cap is not None and step >= cap:
                break
            x, y = encode_batch([train[j] for j in order[i:i + batch_size]], vocab)
            x, y = x.to(dev), y.to(dev)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                               ignore_index=-1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(loss.item())
        val_nll = nll_per_char(model, val, vocab)
        history.seconds.append(time.perf_counter() - start)
        history.train_nll.append(float(np.mean(losses)))
        history.val_nll.append(val_nll)
        if val_nll < history.best_val:
            history.best_val, history.best_epoch, since_best = val_nll, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
        if verbose:
            print(f"epoch {epoch:2d}  train {history.train_nll[-1]:.3f}  val {val_nll:.3f}"
                  f"  ({history.seconds[-1]:.1f} s)")
        if since_best >= patience:
            history.stopped_early = True
            break
    model.load_state_dict(best_state)
    model.eval()
    return history


def sample_names(model, n: int = 10, *, vocab: CharVocab | None = None, temperature: float = 1.0,
                 top_k: int | None = None, prefix: str = "", seed: int = 0, max_len: int = 30) -> list[str]:
    """Draw ``n`` names from a language model, one character at a time.

    Each step divides the model's scores by ``temperature`` (> 0), keeps the ``top_k``
    most likely tokens (None: all), and samples; a name ends at the end token or at
    ``max_len`` characters. Every name starts with ``prefix`` (which may be empty).
    The model is re-run on the whole prefix at each step, so any model following the
    module's protocol works. Deterministic for a given ``seed``.
    """
    vocab = vocab or getattr(model, "vocab", None) or CharVocab()
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None and (int(top_k) != top_k or not 1 <= top_k <= vocab.size):
        raise ValueError(f"top_k must be None or an integer in 1..{vocab.size}, got {top_k!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    prefix_ids = vocab.encode(prefix)
    dev = _model_device(model)
    gen = torch.Generator().manual_seed(int(seed))
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    seqs = [[vocab.boundary, *prefix_ids] for _ in range(int(n))]
    done = [False] * int(n)
    try:
        with torch.no_grad():
            for _ in range(max(0, max_len - len(prefix_ids))):
                if all(done) or not seqs:
                    break
                x = torch.tensor(seqs, dtype=torch.long, device=dev)
                scores = model(x)[:, -1, :].double().cpu() / temperature
                if top_k is not None:
                    kth = torch.topk(scores, int(top_k), dim=-1).values[:, -1:]
                    scores = scores.masked_fill(scores < kth, float("-inf"))
                probs = torch.softmax(scores, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1).tolist()
                for b, tok in enumerate(nxt):
                    if done[b]:
                        seqs[b].append(vocab.boundary)
                    else:
                        seqs[b].append(tok)
                        done[b] = tok == vocab.boundary
    finally:
        if was_training:
            model.train()
    out = []
    for s in seqs:
        body = s[1:]
        if vocab.boundary in body:
            body = body[:body.index(vocab.boundary)]
        out.append(vocab.decode(body))
    return out
