"""Import rules for the values of shape computations and constants: Shape, Size, Constant, ConstantOfShape,
Range, Trilu. Shapes are integers: these run on arrays, without gradient."""
import math

import numpy as np

import autocompyute.functional as F
from autocompyute.tensor import Tensor

from ._import_util import check_alloc, const, ints, rule, scalar, scalar_like, values
from .registry import import_rule


@import_rule("Shape", since=1)
def shape(x, *, start=0, end=None):
    return Tensor(np.asarray(x.shape[start:end], dtype=np.int64))


@rule("Size", 1, 13, 19, 21)
def size(x): return const(np.asarray(x.numel(), dtype=np.int64))


@import_rule("Constant", since=1)
def constant(*, value=None, value_float=None, value_floats=None, value_int=None, value_ints=None,
             value_string=None, value_strings=None, sparse_value=None):
    if value is not None:
        return value
    if value_float is not None:
        return Tensor(np.asarray(value_float, dtype=np.float32))
    if value_floats is not None:
        return Tensor(np.asarray(value_floats, dtype=np.float32))
    if value_int is not None:
        return Tensor(np.asarray(value_int, dtype=np.int64))
    if value_ints is not None:
        return Tensor(np.asarray(value_ints, dtype=np.int64))
    raise ValueError("Constant: no supported value attribute (string and sparse values are not supported)")


@import_rule("ConstantOfShape", since=9)
def constant_of_shape(shape, *, value=None):
    fill = np.zeros(1, np.float32) if value is None else values(value)
    dims = ints(shape)
    check_alloc(dims, fill.dtype, "ConstantOfShape")
    return Tensor(np.full(dims, fill.reshape(-1)[0], dtype=fill.dtype))


@import_rule("Range", since=11)
def range_(start, limit, delta):
    dtype = start.dtype
    a, b, d = scalar(start), scalar(limit), scalar(delta)
    if d == 0:
        raise ValueError("Range: delta must not be 0")
    n = max(int(math.ceil((b - a) / d)), 0)
    check_alloc((n,), dtype, "Range")
    return Tensor((a + np.arange(n) * d).astype(dtype))


@import_rule("Trilu", since=14)
def trilu(x, k=None, *, upper=1):
    k = scalar(k, 0)
    rows, cols = x.shape[-2:]
    keep = np.triu(np.ones((rows, cols), bool), k) if upper else np.tril(np.ones((rows, cols), bool), k)
    if x.dtype.kind != "f":
        return Tensor(np.where(keep, values(x), 0).astype(x.dtype))
    return F.where(const(keep, x), x, scalar_like(x, 0))
