"""Splitting, batching and transforms: dlcore/data/split.py, loader.py and transforms.py."""

from __future__ import annotations

import numpy as np
import pytest

from dlcore.data import DataLoader, Dataset, Standardizer, one_hot, train_val_test_split


def imbalanced(n: int = 5000, seed: int = 0):
    """X holds each row's index, so the parts can be checked for overlap."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.6, 0.25, 0.1, 0.05])
    X = np.arange(n)[:, None] * np.ones((1, 3))
    return X, y


# ---------------------------------------------------------------- train_val_test_split


def test_stratified_split_keeps_class_proportions_within_one_percent():
    X, y = imbalanced()
    overall = np.bincount(y) / len(y)
    parts = train_val_test_split(X, y, (0.7, 0.15, 0.15), seed=3)
    for (_, y_part), frac in zip(parts, (0.7, 0.15, 0.15), strict=True):
        assert abs(len(y_part) - frac * len(y)) <= 4  # at most one sample per class off
        np.testing.assert_allclose(np.bincount(y_part, minlength=4) / len(y_part), overall, atol=0.01)


def test_split_is_a_partition_and_keeps_rows_together():
    X, y = imbalanced(1000)
    parts = train_val_test_split(X, y, (0.6, 0.2, 0.2), seed=1)
    rows = np.concatenate([Xp[:, 0] for Xp, _ in parts]).astype(int)
    assert sorted(rows.tolist()) == list(range(1000))
    for Xp, yp in parts:
        np.testing.assert_array_equal(y[Xp[:, 0].astype(int)], yp)


def test_same_seed_same_split_and_different_seed_different_split():
    X, y = imbalanced(500)
    a = train_val_test_split(X, y, seed=7)
    b = train_val_test_split(X, y, seed=7)
    c = train_val_test_split(X, y, seed=8)
    for (Xa, ya), (Xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0], c[0][0])


def test_unstratified_two_way_split():
    X, y = imbalanced(101)
    (X_tr, y_tr), (X_te, y_te) = train_val_test_split(X, y, (0.8, 0.2), seed=0, stratify=False)
    assert (len(y_tr), len(y_te)) == (81, 20)
    assert len(set(X_tr[:, 0]) | set(X_te[:, 0])) == 101


@pytest.mark.parametrize("fractions", [(0.8, 0.3), (1.0,), (0.5, -0.1, 0.6), (0.7, 0.2)])
def test_bad_fractions_are_clear_errors(fractions):
    X, y = imbalanced(100)
    with pytest.raises(ValueError, match="fractions must be"):
        train_val_test_split(X, y, fractions)


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"X of shape \(N, \.\.\.\) and y of shape \(N,\)"):
        train_val_test_split(np.zeros((10, 2)), np.zeros(9))


# ---------------------------------------------------------------- DataLoader


def test_same_seed_gives_identical_batches_epoch_after_epoch():
    X, y = imbalanced(97)
    a = DataLoader(X, y, batch_size=10, shuffle=True, seed=5)
    b = DataLoader(X, y, batch_size=10, shuffle=True, seed=5)
    epochs_a = [[yb.copy() for _, yb in a] for _ in range(3)]
    epochs_b = [[yb.copy() for _, yb in b] for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        for ba, bb in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(ba, bb)
    first = [xb[:, 0] for xb, _ in DataLoader(X, y, batch_size=10, shuffle=True, seed=5)]
    second_epoch = [xb[:, 0] for xb, _ in a]
    assert not np.array_equal(np.concatenate(first), np.concatenate(second_epoch)), "each epoch reshuffles"


def test_shuffled_epoch_visits_every_sample_once():
    X, y = imbalanced(97)
    seen = np.concatenate([xb[:, 0] for xb, _ in DataLoader(X, y, batch_size=8, shuffle=True, seed=1)])
    assert sorted(seen.astype(int).tolist()) == list(range(97))
    assert not np.array_equal(seen, np.arange(97))


def test_drop_last_is_respected():
    X, y = imbalanced(103)
    keep = DataLoader(X, y, batch_size=10)
    drop = DataLoader(X, y, batch_size=10, drop_last=True, shuffle=True)
    assert len(keep) == 11 and [len(yb) for _, yb in keep] == [10] * 10 + [3]
    assert len(drop) == 10 and [len(yb) for _, yb in drop] == [10] * 10


def test_unshuffled_order_single_array_and_dataset_input():
    X = np.arange(10.0)
    assert [b.tolist() for b in DataLoader(X, batch_size=4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    ds = Dataset("toy", X[:, None], np.arange(10) % 2, ("0", "1"), "test")
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))
    assert xb.shape == (3, 1) and yb.tolist() == [0, 1, 0]


def test_dataloader_errors_speak_to_the_learner():
    with pytest.raises(ValueError, match="share their first dimension"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader()


# ---------------------------------------------------------------- one_hot


def test_one_hot():
    Y = one_hot(np.array([2, 0, 1, 2]))
    assert Y.shape == (4, 3) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, np.eye(3)[[2, 0, 1, 2]])
    assert one_hot([1], num_classes=5).tolist() == [[0, 1, 0, 0, 0]]
    assert one_hot(np.array([1.0, 0.0]), dtype=np.int64).tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(("labels", "kwargs", "match"), [
    ([0, 3], {"num_classes": 3}, r"labels must lie in 0\.\.2"),
    ([-1, 1], {}, "labels must lie in"),
    ([0.5, 1.0], {}, "integer class labels"),
    ([[0, 1]], {}, r"shape \(N,\)"),
])
def test_one_hot_errors(labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        one_hot(np.array(labels), **kwargs)


# ---------------------------------------------------------------- Standardizer


def test_standardizer_keeps_training_statistics():
    rng = np.random.default_rng(0)
    X_train = rng.normal(5.0, [1.0, 10.0, 0.1], size=(1000, 3))
    X_test = rng.normal(6.0, 2.0, size=(50, 3))
    scaler = Standardizer()
    Z = scaler.fit_transform(X_train)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-12)
    assert scaler.mean_.shape == scaler.std_.shape == (1, 3)
    expected = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    np.testing.assert_allclose(scaler.transform(X_test), expected)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X_test)), X_test)


def test_standardizer_per_channel_images_and_float32():
    rng = np.random.default_rng(1)
    images = rng.random((20, 3, 4, 4)).astype(np.float32) * np.array([1, 2, 3], np.float32)[None, :, None, None]
    scaler = Standardizer(axis=(0, 2, 3)).fit(images)
    assert scaler.mean_.shape == (1, 3, 1, 1)
    Z = scaler.transform(images)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert scaler.transform(images[:2, :, :, :]).shape == (2, 3, 4, 4)


def test_standardizer_constant_feature_and_errors():
    X = np.column_stack([np.ones(10), np.arange(10.0)])
    Z = Standardizer().fit_transform(X)
    assert np.isfinite(Z).all() and np.all(Z[:, 0] == 0)
    with pytest.raises(RuntimeError, match="before fit"):
        Standardizer().transform(X)
    with pytest.raises(ValueError, match=r"fitted on inputs of shape \(N, 2\), got \(4, 5\)"):
        Standardizer().fit(X).transform(np.zeros((4, 5)))
