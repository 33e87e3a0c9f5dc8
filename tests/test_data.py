"""The data loader: batching, drop_last, seeded shuffling, collation of generic datasets."""
import numpy as np
import pytest

import autocompyute as ac
from autocompyute.data import DataLoader, TensorDataset


def _dataset(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return TensorDataset(ac.tensor(x), y), x, y


def test_batches_in_order_with_a_short_last_batch():
    ds, x, y = _dataset()
    batches = list(DataLoader(ds, batch_size=4))
    assert len(DataLoader(ds, batch_size=4)) == 3 == len(batches)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert all(isinstance(t, ac.Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    np.testing.assert_array_equal(batches[1][0].numpy(), x[4:8])


def test_drop_last():
    ds, _, _ = _dataset()
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[0].shape[0] for b in loader] == [4, 4]


def test_seeded_shuffle_is_reproducible_and_differs_between_epochs():
    ds, x, _ = _dataset(20)
    a = DataLoader(ds, batch_size=5, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=5, shuffle=True, seed=3)
    epoch_a1 = np.concatenate([t[1].numpy() for t in a])
    epoch_b1 = np.concatenate([t[1].numpy() for t in b])
    epoch_a2 = np.concatenate([t[1].numpy() for t in a])
    np.testing.assert_array_equal(epoch_a1, epoch_b1)
    assert sorted(epoch_a1) == list(range(20))
    assert not np.array_equal(epoch_a1, np.arange(20)) and not np.array_equal(epoch_a1, epoch_a2)
    # rows stay paired
    for xb, yb in DataLoader(ds, batch_size=5, shuffle=True, seed=3):
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_shuffle_follows_manual_seed_or_a_generator():
    ds, _, _ = _dataset(20)

    def order(**kw):
        return np.concatenate([t[1].numpy() for t in DataLoader(ds, batch_size=20, shuffle=True, **kw)])

    ac.manual_seed(11)
    first = order()
    ac.manual_seed(11)
    np.testing.assert_array_equal(order(), first)
    np.testing.assert_array_equal(order(generator=np.random.default_rng(5)),
                                  order(generator=np.random.default_rng(5)))


class _Squares:
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], np.float32), "y": i}


def test_generic_dataset_is_collated():
    batches = list(DataLoader(_Squares(), batch_size=2))
    assert len(batches) == 3
    np.testing.assert_array_equal(batches[1]["x"].numpy(), [[2, 4], [3, 9]])
    np.testing.assert_array_equal(batches[2]["y"].numpy(), [4])


def test_custom_collate_and_errors():
    ds, _, _ = _dataset(4)
    loader = DataLoader(ds, batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2]
    with pytest.raises(ValueError):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="lengths"):
        TensorDataset(np.zeros(3), np.zeros(4))
    assert len(ds) == 4 and ds[1][1].item() == 1
