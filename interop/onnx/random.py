"""Import rules for random ops: RandomUniform, RandomNormal (and their *Like forms), Bernoulli, Multinomial.

With a `seed` attribute the draw comes from numpy's generator seeded with it, as ONNX's reference evaluator draws
it, so a seeded node gives the same values on every run; without one, the engine's generator
(`ac.manual_seed` makes it reproducible). The outputs are samples: no gradient flows to the inputs.
"""
import numpy as np
from onnx import helper

from autocompyute import backends

from ._import_util import check_alloc, const, values
from .registry import import_rule


def _generator(seed):
    """numpy's generator seeded with `seed`, or the engine's host generator; samples move to x's device."""
    return np.random.RandomState(int(seed)) if seed is not None else backends.rng("cpu")


def _dtype(code, like=None):
    if code is not None:
        return np.dtype(helper.tensor_dtype_to_np_dtype(code))
    return np.dtype(like.dtype) if like is not None else np.dtype(np.float32)


@import_rule("RandomUniform", since=1)
def random_uniform(*, shape, dtype=1, high=1.0, low=0.0, seed=None):
    check_alloc(tuple(shape), np.float64, "RandomUniform")
    return const(_generator(seed).uniform(low, high, tuple(shape)).astype(_dtype(dtype)))


@import_rule("RandomNormal", since=1)
def random_normal(*, shape, dtype=1, mean=0.0, scale=1.0, seed=None):
    check_alloc(tuple(shape), np.float64, "RandomNormal")
    return const(_generator(seed).normal(mean, scale, tuple(shape)).astype(_dtype(dtype)))


@import_rule("RandomUniformLike", since=1)
def random_uniform_like(x, *, dtype=None, high=1.0, low=0.0, seed=None):
    return const(_generator(seed).uniform(low, high, tuple(x.shape)).astype(_dtype(dtype, x)), x)


@import_rule("RandomNormalLike", since=1)
def random_normal_like(x, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    return const(_generator(seed).normal(mean, scale, tuple(x.shape)).astype(_dtype(dtype, x)), x)


@import_rule("Bernoulli", since=15)
def bernoulli(x, *, dtype=None, seed=None):
    """1 with probability x, else 0, in `dtype` (default: x's)."""
    p = values(x).astype(np.float64)
    return const(_generator(seed).binomial(1, p).astype(_dtype(dtype, x)), x)


@import_rule("Multinomial", since=7)
def multinomial(x, *, dtype=6, sample_size=1, seed=None):
    """x (batch, classes) unnormalised log-probabilities -> (batch, sample_size) class indices."""
    logits = values(x).astype(np.float64)
    check_alloc((logits.shape[0], sample_size, logits.shape[-1]), np.bool_, "Multinomial")   # the comparison below
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    gen = _generator(seed)
    u = gen.uniform(0.0, 1.0, (p.shape[0], sample_size))
    idx = np.minimum((np.cumsum(p, axis=1)[:, None, :] < u[..., None]).sum(-1), p.shape[1] - 1)
    return const(idx.astype(_dtype(dtype)), x)
