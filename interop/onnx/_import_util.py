"""Small helpers shared by the import rules of every family."""
import numpy as np

from autocompyute.tensor import Tensor

from . import safety


def values(t):
    """A Tensor's values as a numpy array (shape arithmetic, no gradient); None stays None."""
    if t is None:
        return None
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


def ints(t):
    """A Tensor (or list) of integers as a list of Python ints; None stays None."""
    if t is None:
        return None
    return [int(v) for v in values(t).reshape(-1)]


def scalar(t, default=None):
    """A 0-d or one-element Tensor as a Python number; None (an omitted input) gives `default`."""
    if t is None:
        return default
    return values(t).reshape(-1)[0].item()


def const(array, like=None):
    """A constant Tensor, on `like`'s device when given."""
    t = Tensor(np.asarray(array))
    return t.to(like.device) if like is not None and like.device != "cpu" else t


def check_alloc(shape, dtype, what):
    """Refuse (UnsafeModelError) before allocating a tensor larger than safety.LIMITS allows."""
    return safety.check_alloc(shape, dtype, what)


def axis(a, ndim):
    return int(a) % ndim if ndim else 0
