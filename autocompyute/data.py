"""A small data loader: datasets of arrays, batching, seeded shuffling, drop_last. Batches are Tensors."""
import numpy as np

from . import backends
from .tensor import Tensor


class Dataset:
    """Anything with __len__ and __getitem__(i) works; this base class only names the protocol."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the i-th rows of each of several equally long Tensors or arrays."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: tensors of different lengths {[len(a) for a in arrays]}")
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(Tensor(a[index]) for a in self.arrays)

    def batch(self, indices):
        """Several samples at once: one fancy-indexing per array (the loader's fast path)."""
        return tuple(Tensor(a[backends.xp_of(a).asarray(indices)]) for a in self.arrays)


def default_collate(samples):
    """Stack a list of samples (Tensors, arrays, numbers, or tuples/dicts of them) into batch Tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
    xp = backends.xp_of(arrays[0]) if hasattr(arrays[0], "dtype") else np
    return Tensor(xp.stack([xp.asarray(a) for a in arrays]))


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size`.

    shuffle: a new permutation each epoch, drawn from `generator` (a numpy Generator), else from
    `np.random.default_rng(seed)` when a seed is given (the same sequence of epochs on every run), else from
    the engine's generator (`ac.manual_seed`). drop_last: leave out a last, incomplete batch.
    TensorDatasets are batched by one fancy-indexing per array; other datasets sample by sample, then collate_fn.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 collate_fn=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.generator = generator if generator is not None else (
            np.random.default_rng(seed) if seed is not None else None)
        self.collate_fn = collate_fn or default_collate

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else backends.rng("cpu")
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        fast = hasattr(self.dataset, "batch") and self.collate_fn is default_collate
        for i in range(len(self)):
            indices = order[i * self.batch_size:(i + 1) * self.batch_size]
            if fast:
                yield self.dataset.batch(indices)
            else:
                yield self.collate_fn([self.dataset[int(j)] for j in indices])
