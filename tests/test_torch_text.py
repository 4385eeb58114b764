"""Tests for dlcore.torch.text: the names split, vocabulary, NLL metric, bigram, LSTM trainer."""

import math

import pytest
import torch

from dlcore.torch.text import (
    BigramModel,
    CharLSTM,
    CharVocab,
    ContextMLP,
    encode_batch,
    names_split,
    nll_per_char,
    sample_names,
    train_char_lm,
)


def test_split_is_disjoint_complete_and_deterministic():
    from dlcore.data import load_names

    names = load_names(verbose=False)
    train, val, test = names_split(seed=0)
    assert (len(train), len(val), len(test)) == (4130, 516, 517)
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test) and set(val).isdisjoint(test)
    assert set(train) | set(val) | set(test) == set(names)
    assert names_split(seed=0) == (train, val, test)
    assert names_split(seed=1)[0] != train


def test_split_removes_duplicates():
    names = ["ann", "bob", "ann", "cy", "dee", "bob", "eve", "fay", "gus", "hal"]
    parts = names_split(seed=3, names=names)
    flat = [n for part in parts for n in part]
    assert sorted(flat) == sorted(set(names))


@pytest.mark.parametrize("bad, match", [
    ((0.5, 0.5), "3 numbers"), ((0.8, 0.3, -0.1), "non-negative"), ((0.5, 0.2, 0.2), "sum to 1"),
])
def test_split_bad_fractions(bad, match):
    with pytest.raises(ValueError, match=match):
        names_split(fractions=bad, names=["ab", "cd", "ef"])


def test_vocab_and_encode_batch():
    v = CharVocab()
    assert v.size == 27 and v.itos[0] == "." and v.decode(v.encode("emma")) == "emma"
    x, y = encode_batch(["ab", "c"], v)
    assert x.tolist() == [[0, 1, 2], [0, 3, 0]]
    assert y.tolist() == [[1, 2, 0], [3, 0, -1]]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.encode("Emma")
    with pytest.raises(ValueError, match="boundary"):
        encode_batch(["a.b"], v)
    with pytest.raises(ValueError, match="empty string"):
        encode_batch(["ab", ""], v)
    with pytest.raises(TypeError, match="single string"):
        encode_batch("ab", v)


def test_bigram_nll_by_hand():
    # vocabulary {., a, b}; training names "ab", "a"
    v = CharVocab("ab")
    m = BigramModel(alpha=1.0, vocab=v).fit(["ab", "a"])
    # counts: .->a 2; a->b 1; a->. 1; b->. 1
    assert m.counts.tolist() == [[0, 2, 0], [1, 0, 1], [1, 0, 0]]
    # P(a|.) = 3/5, P(b|a) = 2/5, P(.|b) = 2/4 ; "ab" predicts a, b, end: 3 characters
    expected = -(math.log(3 / 5) + math.log(2 / 5) + math.log(2 / 4)) / 3
    assert nll_per_char(m, ["ab"]) == pytest.approx(expected, abs=1e-12)
    # "b": P(b|.) = 1/5, P(.|b) = 2/4; averaged over both names: 5 predictions
    both = -(math.log(3 / 5) + math.log(2 / 5) + math.log(2 / 4) + math.log(1 / 5) + math.log(2 / 4)) / 5
    assert nll_per_char(m, ["ab", "b"]) == pytest.approx(both, abs=1e-12)
    assert nll_per_char(m, ["ab", "b"], batch_size=1) == pytest.approx(both, abs=1e-12)


def test_uniform_model_scores_log_v():
    v = CharVocab()

    def uniform(x):
        return torch.zeros(*x.shape, v.size)

    assert nll_per_char(uniform, ["mary", "jo"], v) == pytest.approx(math.log(27))


def test_nll_bad_input():
    m = BigramModel(vocab=CharVocab("ab"))
    with pytest.raises(RuntimeError, match="not fitted"):
        nll_per_char(m, ["ab"])
    m.fit(["ab"])
    with pytest.raises(ValueError, match="empty"):
        nll_per_char(m, [])
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        nll_per_char(lambda x: torch.zeros(*x.shape, 5), ["ab"], CharVocab("ab"))
    with pytest.raises(ValueError, match="alpha"):
        BigramModel(alpha=-1)


def test_train_char_lm_learns_restores_best_and_is_deterministic():
    names = ["anna", "anne", "annie", "ann", "hanna", "hannah", "joanna", "anneke"] * 4
    val = ["annah", "janna"]

    def run():
        torch.manual_seed(0)
        model = CharLSTM(embed=8, hidden=16)
        hist = train_char_lm(model, names, val, max_epochs=6, seed=0, lr=2e-2, batch_size=8, patience=2)
        return model, hist

    model, hist = run()
    assert hist.val_nll[0] < math.log(27)
    assert hist.best_val == min(hist.val_nll)
    assert hist.val_nll[hist.best_epoch - 1] == hist.best_val
    assert nll_per_char(model, val) == pytest.approx(hist.best_val, abs=1e-9)  # best state restored
    _, hist2 = run()
    assert hist2.val_nll == hist.val_nll
    with pytest.raises(ValueError, match="max_epochs"):
        train_char_lm(model, names, val, max_epochs=0)


def test_sample_names_controls():
    v = CharVocab("ab")
    m = BigramModel(alpha=0.1, vocab=v).fit(["ab", "ab", "abab", "a"])
    got = sample_names(m, 20, temperature=1.0, seed=0)
    assert got == sample_names(m, 20, temperature=1.0, seed=0)
    assert all(set(s) <= {"a", "b"} for s in got)
    assert all(s.startswith("b") for s in sample_names(m, 5, prefix="b"))
    greedy = sample_names(m, 10, top_k=1, seed=4)
    assert len(set(greedy)) == 1
    assert all(len(s) <= 7 for s in sample_names(m, 10, temperature=50.0, max_len=7))
    with pytest.raises(ValueError, match="temperature"):
        sample_names(m, 2, temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        sample_names(m, 2, top_k=9)


def test_context_mlp_is_causal_reads_only_its_window_and_counts_parameters():
    torch.manual_seed(0)
    model = ContextMLP(context=3)
    assert sum(p.numel() for p in model.parameters()) == 7_721
    x = torch.randint(1, 27, (2, 8))
    out = model(x)
    assert out.shape == (2, 8, 27)
    changed = x.clone()
    changed[:, 4] = (changed[:, 4] % 26) + 1          # a different letter at position 4
    diff = (model(changed) - out).abs().amax(dim=(0, 2))
    assert torch.all(diff[:4] == 0)                    # earlier positions: causal
    assert torch.all(diff[4:7] > 0)                    # positions 4, 5, 6 read it
    assert torch.all(diff[7:] == 0)                    # position 7 is outside its window
    with pytest.raises(ValueError, match="LongTensor"):
        model(x.float())
    with pytest.raises(ValueError, match="context"):
        ContextMLP(context=0)
