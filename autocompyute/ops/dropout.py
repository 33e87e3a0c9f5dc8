"""Dropout: zero elements at random during training and scale the rest by 1 / (1 - p)."""
import numpy as np

from .. import backends
from .base import Op


class Dropout(Op):
    """y = x * mask / (1 - p), with mask[i] = (u[i] >= p) for u uniform in [0, 1) drawn from the engine's
    generator (`ac.manual_seed` makes it reproducible). The boolean mask (one byte an element) is saved for
    the backward."""
    def forward(self, x):
        u = backends.rng(backends.device_of(x)).random(x.shape, dtype=np.float32)
        mask = u >= self.p
        self.save(mask=mask)
        return self._apply_mask(x, mask)

    def _apply_mask(self, a, mask):
        out = a * mask
        out *= out.dtype.type(1 / (1 - self.p) if self.p < 1 else 0)
        return out

    def backward(self, dy):
        return (self._apply_mask(dy, self.saved.mask),)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p during training (scaling the others by 1 / (1 - p)).
    In eval mode (training=False) or with p == 0 the input comes back unchanged."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=float(p))
