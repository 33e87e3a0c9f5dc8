"""Small helpers shared by the import rules of every family.

Each rule is written against the Tensor API, so an imported graph is differentiable by construction. Ops that
are linear in their data for fixed integer arguments (padding, gathers, scatters, shuffles, top-k) compute index
arrays with numpy and apply one `GatherMap` (`flat_positions`, `gather_positions`, `apply_movement`);
integer-only and boolean computations (bit operations, masks, counts) run on arrays and come back as constants
(`values`, `const`).
"""
import numpy as np

from autocompyute import backends
from autocompyute.ops.onnx_ops import gather_map
from autocompyute.tensor import Tensor

from ..errors import OnnxImportError
from . import safety
from .registry import import_rule


def rule(op_type, *versions, domain=""):
    """Register `fn(*inputs, **attributes)` for every opset version in `versions` (where its meaning changed)."""
    def register(fn):
        for since in versions or (1,):
            import_rule(op_type, since=since, domain=domain)(fn)
        return fn
    return register


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


def scalar(t, default=None, lenient=False):
    """A 0-d or one-element Tensor as a Python number; None (an omitted input) gives `default`. More or fewer
    elements are an OnnxImportError (the spec asks for a scalar, and onnxruntime refuses them for most ops), except
    with `lenient`: the first value, or `default` for none (NonMaxSuppression's reading in onnxruntime)."""
    if t is None:
        return default
    v = values(t)
    if lenient:
        return v.reshape(-1)[0].item() if v.size else default
    if v.size != 1:
        raise OnnxImportError(f"a scalar input must hold one value, not {v.size} (shape {v.shape})")
    return v.reshape(-1)[0].item()


def const(array, like=None):
    """A constant Tensor (of an array, a list or a number), on `like`'s device when given."""
    array = backends.as_array(np, array)  # numpy and cupy arrays as they are, anything else through numpy
    return Tensor(array if like is None else backends.to_device(array, like.device))


def scalar_like(x, value):
    """`value` as a constant 0-d Tensor of x's dtype, on x's device."""
    return const(np.asarray(value, dtype=x.dtype), x)


def is_float(x):
    """Whether x holds floating-point values (the dtypes a gradient flows through)."""
    return x.dtype.kind == "f"


def flat_positions(x):
    """The flat position of every element of x, shaped like x: apply a movement to it, then gather by it."""
    return np.arange(x.numel(), dtype=np.int64).reshape(x.shape)


def gather_positions(x, positions):
    """x's elements at `positions` (flat indices into x, shaped like the result), as one differentiable GatherMap."""
    return gather_map([x], positions)


def apply_movement(x, fn):
    """Apply a numpy movement `fn` to x: on the values directly for integers, through positions for floats."""
    if not is_float(x):
        return const(fn(values(x)), x)
    return gather_positions(x, fn(flat_positions(x)))


def as_str(v):
    """A string attribute as str (ONNX may give it as bytes)."""
    return v.decode() if isinstance(v, bytes) else v


def check_alloc(shape, dtype, what):
    """Refuse (UnsafeModelError) before allocating a tensor larger than safety.LIMITS allows."""
    return safety.check_alloc(shape, dtype, what)


def check_broadcast(shapes, dtype, what, tail=()):
    """check_alloc of the broadcast of `shapes` followed by the dims `tail` (an op's result); shapes that do not
    broadcast are left to the op, which says so."""
    try:
        shape = np.broadcast_shapes(*(tuple(s) for s in shapes))
    except ValueError:
        return
    check_alloc(shape + tuple(tail), dtype, what)


def axis(a, ndim, what="axis"):
    """An ONNX axis (negative ones count from the end) as an index into ndim dims; one out of range is an
    OnnxImportError, where Python's modulo would wrap it around to a wrong axis."""
    a, n = int(a), max(ndim, 1)
    if not -n <= a < n:
        raise OnnxImportError(f"{what} {a} is out of range for an input of rank {ndim}")
    return a % n


def axes(values, ndim, what="axes"):
    """`axis` of each of `values`, a list."""
    return [axis(a, ndim, what) for a in values]


def sorted_axes(values, ndim):
    """`axes` of `values` as a sorted tuple; none for a rank-0 input."""
    return tuple(sorted(axes(values, ndim))) if ndim else ()


def distinct_axes(values, ndim, what="axes"):
    """`axes`, for ops where an axis named twice is an error (Unsqueeze, Slice, Pad: onnxruntime refuses them)."""
    out = axes(values, ndim, what)
    if len(set(out)) != len(out):
        raise OnnxImportError(f"{what} {list(values)} name an axis twice")
    return out
