"""Cases for ops/reduce.py beyond sum and mean (those are in cases_elementwise.py)."""
import numpy as np

import autocompyute as ac
from op_cases import C, Case, Distinct, U


def _lse(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    y = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _extreme_dim(fn, arg, x, axis, keepdims=False):
    i = arg(x, axis=axis)
    v = fn(x, axis=axis)
    return (v, i) if not keepdims else (np.expand_dims(v, axis), np.expand_dims(i, axis))


_WITH_ZEROS = [[0.0, 2.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, -1.0, 0.7]]

CASES = [
    Case("var_all", lambda x: x.var(), (U(3, 4),), lambda x: x.var(ddof=1)),
    Case("var_dim_keepdim", lambda x: x.var(-1, keepdim=True), (U(3, 4),), lambda x: x.var(-1, ddof=1, keepdims=True)),
    Case("var_dims_correction0", lambda x: ac.var(x, (0, 2), correction=0), (U(2, 3, 4),),
         lambda x: x.var(axis=(0, 2))),
    Case("var_unbiased_false", lambda x: x.var(1, unbiased=False), (U(3, 4),), lambda x: x.var(1)),
    Case("std_all", lambda x: x.std(), (U(3, 4),), lambda x: x.std(ddof=1)),
    Case("std_dim", lambda x: ac.std(x, 0), (U(3, 4),), lambda x: x.std(0, ddof=1)),
    Case("std_keepdim_correction2", lambda x: x.std((-2, -1), keepdim=True, correction=2), (U(2, 3, 4),),
         lambda x: x.std(axis=(1, 2), ddof=2, keepdims=True)),
    Case("max_all", lambda x: x.max(), (Distinct(3, 4),), np.max),
    Case("min_all", lambda x: ac.min(x), (Distinct(3, 4),), np.min),
    Case("max_dim", lambda x: x.max(1), (Distinct(3, 4),), lambda x: _extreme_dim(np.max, np.argmax, x, 1)),
    Case("max_dim_keepdim_neg", lambda x: ac.max(x, -2, keepdim=True), (Distinct(2, 3, 4),),
         lambda x: _extreme_dim(np.max, np.argmax, x, 1, True)),
    Case("min_dim", lambda x: x.min(0), (Distinct(3, 4),), lambda x: _extreme_dim(np.min, np.argmin, x, 0)),
    Case("max_elementwise", lambda a, b: ac.max(a, b), (Distinct(3, 4), Distinct(4)), np.maximum),
    Case("argmax_flat", lambda x: x.argmax(), (Distinct(3, 4),), np.argmax, grad=False),
    Case("argmax_dim_keepdim", lambda x: x.argmax(-1, keepdim=True), (Distinct(3, 4),),
         lambda x: np.argmax(x, -1)[:, None], grad=False),
    Case("argmin_dim", lambda x: ac.argmin(x, 0), (Distinct(3, 4),), lambda x: np.argmin(x, 0), grad=False),
    Case("prod_all", lambda x: x.prod(), (U(3, 4, low=0.5, high=1.5),), np.prod),
    Case("prod_dim", lambda x: x.prod(1), (U(3, 4),), lambda x: x.prod(1)),
    Case("prod_dims_keepdim", lambda x: ac.prod(x, (0, -1), keepdim=True), (U(2, 3, 4, low=0.5, high=1.5),),
         lambda x: x.prod(axis=(0, 2), keepdims=True)),
    Case("prod_with_zeros", lambda x: x.prod(-1), (C(_WITH_ZEROS),), lambda x: x.prod(-1)),
    Case("logsumexp", lambda x: x.logsumexp(1), (U(3, 4),), lambda x: _lse(x, 1)),
    Case("logsumexp_dims_keepdim", lambda x: ac.logsumexp(x, (0, -1), keepdim=True), (U(2, 3, 4),),
         lambda x: _lse(x, (0, 2), True)),
    Case("logsumexp_large", lambda x: x.logsumexp(-1), (U(3, 4, low=500, high=510),), lambda x: _lse(x, -1)),
    Case("softmax", lambda x: x.softmax(-1), (U(3, 4),), lambda x: _softmax(x, -1)),
    Case("softmax_dim0_large", lambda x: ac.softmax(x, 0), (U(3, 4, low=-900, high=-895),), lambda x: _softmax(x, 0)),
    Case("softmax_reused", lambda x: x.softmax(1) * x, (U(2, 3, 4),), lambda x: _softmax(x, 1) * x),
    Case("log_softmax", lambda x: x.log_softmax(-1), (U(3, 4),), lambda x: x - _lse(x, -1, True)),
    Case("log_softmax_large", lambda x: ac.log_softmax(x, 1), (U(2, 3, 4, low=300, high=320),),
         lambda x: x - _lse(x, 1, True), atol=1e-4),  # float32 spacing near 300 is 3e-5
    Case("cumsum", lambda x: x.cumsum(0), (U(3, 4),), lambda x: x.cumsum(0)),
    Case("cumsum_neg_dim", lambda x: ac.cumsum(x, -1) * x, (U(2, 3, 4),), lambda x: x.cumsum(-1) * x),
]
