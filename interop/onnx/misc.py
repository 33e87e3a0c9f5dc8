"""Import rules for the breadth of ONNX: the ops that no engine family mirrors one to one.

Each rule is written against the Tensor API, so an imported graph is differentiable by construction. Ops that
are linear in their data for fixed integer arguments (pooling, padding, resizing, gathers, scatters, top-k)
compute index and weight arrays with numpy and apply one `GatherMap`; integer-only and boolean computations
(shapes, comparisons, bit operations, quantised arithmetic) run on arrays and come back as constants.
"""
import math

import numpy as np

import autocompyute as ac
import autocompyute.functional as F
from autocompyute.ops.onnx_ops import einsum, gather_map, pointwise
from autocompyute.tensor import Tensor

from .registry import IMPORT_RULES, import_rule

# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def rule(op_type, *versions, domain=""):
    """Register `fn(*inputs, **attributes)` for every opset version in `versions` (where its meaning changed).
    A (domain, op_type) that a family file already covers keeps that family's rules."""
    def register(fn):
        theirs = [f for _, f in IMPORT_RULES.get((domain, op_type), ()) if f.__module__ != __name__]
        if not theirs:
            for since in versions or (1,):
                import_rule(op_type, since=since, domain=domain)(fn)
        return fn
    return register


def _a(t):
    """A Tensor's values as a numpy array (for index arithmetic; no gradient)."""
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


def _const(array, like=None):
    """A constant Tensor on `like`'s device."""
    t = Tensor(np.asarray(array))
    return t.to(like.device) if like is not None and like.device != "cpu" else t


def _ints(t):
    return [int(v) for v in _a(t).reshape(-1)]


def _scalar(x, value):
    """`value` as a 0-d Tensor of x's dtype."""
    return _const(np.asarray(value, dtype=x.dtype), x)


def _positions(x):
    """The flat position of every element of x, shaped like x: apply a movement to it, then gather by it."""
    return np.arange(x.numel(), dtype=np.int64).reshape(x.shape)


def _gather(x, positions):
    return gather_map([x], positions)


def _axes(axes, ndim):
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _is_float(x):
    return x.dtype.kind == "f"


# ---------------------------------------------------------------------------------------------------------
# elementwise math
# ---------------------------------------------------------------------------------------------------------
@rule("Acos", 7)
def acos(x): return pointwise(x, "acos")
@rule("Asin", 7)
def asin(x): return pointwise(x, "asin")
@rule("Atan", 7)
def atan(x): return pointwise(x, "atan")
@rule("Tan", 7)
def tan(x): return pointwise(x, "tan")
@rule("Floor", 1, 6, 13)
def floor(x): return pointwise(x, "floor")
@rule("Ceil", 1, 6, 13)
def ceil(x): return pointwise(x, "ceil")
@rule("Round", 11)
def round_(x): return pointwise(x, "round")


@rule("Sign", 9, 13)
def sign(x):
    return pointwise(x, "sign") if _is_float(x) else _const(np.sign(_a(x)), x)


@rule("Sinh", 9)
def sinh(x): return (F.exp(x) - F.exp(-x)) * 0.5
@rule("Cosh", 9)
def cosh(x): return (F.exp(x) + F.exp(-x)) * 0.5
@rule("Asinh", 9)
def asinh(x): return F.log(x + F.sqrt(x * x + 1.0))
@rule("Acosh", 9)
def acosh(x): return F.log(x + F.sqrt(x * x - 1.0))
@rule("Atanh", 9)
def atanh(x): return F.log((1.0 + x) / (1.0 - x)) * 0.5
@rule("Reciprocal", 1, 6, 13)
def reciprocal(x): return 1.0 / x
@rule("Softsign", 1)
def softsign(x): return x / (F.abs(x) + 1.0)


@rule("Elu", 1, 6)
def elu(x, *, alpha=1.0):
    return F.where(x > 0, x, (F.exp(F.minimum(x, _scalar(x, 0))) - 1.0) * alpha)


@rule("Celu", 12)
def celu(x, *, alpha=1.0):
    return F.maximum(x, _scalar(x, 0)) + F.minimum(
        _scalar(x, 0), (F.exp(F.minimum(x, _scalar(x, 0)) / alpha) - 1.0) * alpha)


@rule("Selu", 1, 6)
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return F.where(x > 0, x * gamma, (F.exp(F.minimum(x, _scalar(x, 0))) - 1.0) * (alpha * gamma))


@rule("ThresholdedRelu", 10)
def thresholded_relu(x, *, alpha=1.0):
    return F.where(x > alpha, x, _scalar(x, 0))


@rule("HardSigmoid", 1, 6)
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    return F.clamp(x * alpha + beta, 0.0, 1.0)


@rule("HardSwish", 14)
def hard_swish(x):
    return x * F.clamp(x * (1 / 6) + 0.5, 0.0, 1.0)


@rule("Softplus", 1)
def softplus(x):
    return F.softplus(x)


@rule("Mish", 18)
def mish(x):
    return x * F.tanh(F.softplus(x))


@rule("Swish", 24)
def swish(x, *, alpha=1.0):
    return x * F.sigmoid(x * alpha)


@rule("Shrink", 9)
def shrink(x, *, bias=0.0, lambd=0.5):
    zero = _scalar(x, 0)
    return F.where(x < -lambd, x + bias, F.where(x > lambd, x - bias, zero))


@rule("PRelu", 1, 6, 7, 9, 16)
def prelu(x, slope):
    return F.where(x < 0, x * slope, x)


@rule("LeakyRelu", 1, 6, 16)
def leaky_relu(x, *, alpha=0.01):
    return F.where(x < 0, x * alpha, x)


@rule("Abs", 1, 6, 13)
def abs_(x):
    return F.abs(x) if _is_float(x) else _const(np.abs(_a(x)), x)


@rule("Neg", 1, 6, 13)
def neg(x):
    return -x if _is_float(x) else _const(-_a(x), x)


@rule("Exp", 1, 6, 13)
def exp(x): return F.exp(x)
@rule("Log", 1, 6, 13)
def log(x): return F.log(x)
@rule("Sin", 7)
def sin(x): return F.sin(x)
@rule("Cos", 7)
def cos(x): return F.cos(x)


@rule("IsNaN", 9, 13, 20)
def isnan(x): return _const(np.isnan(_a(x)), x)


@rule("IsInf", 10, 20)
def isinf(x, *, detect_negative=1, detect_positive=1):
    a = _a(x)
    return _const((np.isposinf(a) & bool(detect_positive)) | (np.isneginf(a) & bool(detect_negative)), x)


@rule("Mod", 10, 13)
def mod(a, b, *, fmod=0):
    """fmod=1: the remainder takes the dividend's sign (C fmod); fmod=0 (integers only): the divisor's."""
    x, y = _a(a), _a(b)
    if _is_float(a) and (a.requires_grad or b.requires_grad):  # y = a - b * k, k constant
        k = (np.trunc if fmod else np.floor)(x / y)
        return F.sub(a, F.mul(b, _const(k.astype(a.dtype), a)))
    return _const((np.fmod if fmod else np.mod)(x, y).astype(np.result_type(x, y)), a)


def _variadic(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


@rule("Sum", 1, 6, 8, 13)
def sum_(*xs): return _variadic(F.add, xs)
@rule("Mean", 1, 6, 8, 13)
def mean_(*xs): return _variadic(F.add, xs) * (1.0 / len(xs))


def _int_or(fn, npfn):
    def apply(*xs):
        if all(_is_float(x) for x in xs):
            return _variadic(fn, xs)
        return _const(_variadic(npfn, [_a(x) for x in xs]), xs[0])
    return apply


rule("Max", 1, 6, 8, 12, 13)(_int_or(F.maximum, np.maximum))
rule("Min", 1, 6, 8, 12, 13)(_int_or(F.minimum, np.minimum))


# ---- comparisons, logic, bits: no gradient ----
def _np_rule(op_type, versions, fn):
    rule(op_type, *versions)(lambda *xs: _const(fn(*[_a(x) for x in xs]), xs[0]))


_np_rule("Greater", (7, 9, 13), np.greater)
_np_rule("Less", (7, 9, 13), np.less)
_np_rule("GreaterOrEqual", (12, 16), np.greater_equal)
_np_rule("LessOrEqual", (12, 16), np.less_equal)
_np_rule("And", (7,), np.logical_and)
_np_rule("Or", (7,), np.logical_or)
_np_rule("Xor", (7,), np.logical_xor)
_np_rule("Not", (1,), np.logical_not)
_np_rule("BitwiseAnd", (18,), np.bitwise_and)
_np_rule("BitwiseOr", (18,), np.bitwise_or)
_np_rule("BitwiseXor", (18,), np.bitwise_xor)
_np_rule("BitwiseNot", (18,), np.bitwise_not)


@rule("BitShift", 11)
def bit_shift(x, y, *, direction="LEFT"):
    a, b = _a(x), _a(y).astype(_a(x).dtype)
    return _const(np.left_shift(a, b) if direction == "LEFT" else np.right_shift(a, b), x)


@rule("Size", 1, 13, 19, 21)
def size(x): return _const(np.asarray(x.numel(), dtype=np.int64))


# ---------------------------------------------------------------------------------------------------------
# reductions: axes as an attribute (older opsets) or as an input (ReduceSum 13+, the others 18+)
# ---------------------------------------------------------------------------------------------------------
def _reduce_axes(x, axes, noop_with_empty_axes):
    """The axes to reduce, or None for "no reduction" (empty axes with noop_with_empty_axes)."""
    if isinstance(axes, Tensor):
        axes = _ints(axes)
    if axes is None or len(axes) == 0:
        return None if noop_with_empty_axes else tuple(range(x.ndim))
    return _axes(axes, x.ndim)


def _arg_extreme(x, axes, keepdims, largest):
    """Values of max/min over `axes` as a gather of the first extreme position (the gradient goes there)."""
    pos = _positions(x)
    rest = [d for d in range(x.ndim) if d not in axes]
    a = np.transpose(_a(x), rest + list(axes)).reshape([x.shape[d] for d in rest] + [-1])
    p = np.transpose(pos, rest + list(axes)).reshape(a.shape)
    if a.shape[-1] == 0:
        fill = np.full([x.shape[d] for d in rest], -np.inf if largest else np.inf, dtype=x.dtype)
        out = _const(fill, x)
        return F.reshape(out, [1 if d in axes else n for d, n in enumerate(x.shape)]) if keepdims else out
    k = (np.argmax if largest else np.argmin)(a, axis=-1)[..., None]
    chosen = np.take_along_axis(p, k, axis=-1)[..., 0]
    if keepdims:
        chosen = chosen.reshape([1 if d in axes else n for d, n in enumerate(x.shape)])
    if not _is_float(x):
        return _const(_a(x).reshape(-1)[chosen], x)
    return _gather(x, chosen)


def _reduction(op_type, axes_input_since, versions, fn):
    """Register fn(x, axes: tuple, keepdims: bool) for ReduceX, at the opsets in `versions`."""
    def attr_form(x, *, axes=None, keepdims=1):
        return fn(x, _reduce_axes(x, axes, 0), bool(keepdims))

    def input_form(x, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        dims = _reduce_axes(x, axes, noop_with_empty_axes)
        return x if dims is None else fn(x, dims, bool(keepdims))

    for v in versions:
        rule(op_type, v)(input_form if v >= axes_input_since else attr_form)


def _sum(x, axes, keepdims):
    return F.sum(x, axes, keepdim=keepdims) if _is_float(x) else _const(
        _a(x).sum(axis=axes, keepdims=keepdims), x)


def _logsumexp(x, axes, keepdims):
    m = np.max(_a(x), axis=axes, keepdims=True) if x.numel() else np.zeros([1] * x.ndim, x.dtype)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    s = F.log(F.sum(F.exp(x - _const(m, x)), axes, keepdim=True)) + _const(m, x)
    return s if keepdims else F.squeeze(s, axes)


def _prod(x, axes, keepdims):
    if not _is_float(x):
        return _const(np.prod(_a(x), axis=axes, keepdims=keepdims), x)
    # the product as exp(sum(log|x|)) with the sign put back: exact gradient x_j -> y / x_j for nonzero x
    a = _a(x)
    sign = np.prod(np.sign(a), axis=axes, keepdims=True)
    y = F.exp(F.sum(F.log(F.abs(x)), axes, keepdim=True)) * _const(sign.astype(x.dtype), x)
    return y if keepdims else F.squeeze(y, axes)


_reduction("ReduceSum", 13, (1, 11, 13), _sum)
_reduction("ReduceMean", 18, (1, 11, 13, 18), lambda x, ax, k: F.mean(x, ax, keepdim=k))
_reduction("ReduceMax", 18, (1, 11, 12, 13, 18, 20), lambda x, ax, k: _arg_extreme(x, ax, k, True))
_reduction("ReduceMin", 18, (1, 11, 12, 13, 18, 20), lambda x, ax, k: _arg_extreme(x, ax, k, False))
_reduction("ReduceProd", 18, (1, 11, 13, 18), _prod)
_reduction("ReduceL1", 18, (1, 11, 13, 18), lambda x, ax, k: _sum(F.abs(x) if _is_float(x) else
                                                                    _const(np.abs(_a(x)), x), ax, k))
_reduction("ReduceL2", 18, (1, 11, 13, 18), lambda x, ax, k: F.sqrt(_sum(x * x, ax, k)) if _is_float(x) else
           _const(np.sqrt((_a(x) ** 2).sum(axis=ax, keepdims=k)).astype(x.dtype), x))
_reduction("ReduceSumSquare", 18, (1, 11, 13, 18), lambda x, ax, k: _sum(x * x, ax, k))
_reduction("ReduceLogSum", 18, (1, 11, 13, 18), lambda x, ax, k: F.log(_sum(x, ax, k)))
_reduction("ReduceLogSumExp", 18, (1, 11, 13, 18), _logsumexp)


def _arg_rule(largest):
    def arg(x, *, axis=0, keepdims=1, select_last_index=0):
        a = _a(x)
        if select_last_index:
            a = np.flip(a, axis)
        i = (np.argmax if largest else np.argmin)(a, axis=axis)
        if select_last_index:
            i = a.shape[axis] - 1 - i
        if keepdims:
            i = np.expand_dims(i, axis)
        return _const(i.astype(np.int64), x)
    return arg


rule("ArgMax", 1, 11, 12, 13)(_arg_rule(True))
rule("ArgMin", 1, 11, 12, 13)(_arg_rule(False))


# ---- softmax family: opset < 13 flattens to 2-D at `axis`; 13+ works along one axis ----
def _softmax_along(x, axis, log=False):
    m = _const(np.max(_a(x), axis=axis, keepdims=True), x)
    z = x - m
    lse = F.log(F.sum(F.exp(z), axis, keepdim=True))
    return z - lse if log else F.exp(z - lse)


def _flattened(fn):
    def old(x, *, axis=1):
        axis %= max(x.ndim, 1)
        n = math.prod(x.shape[:axis])
        y = fn(F.reshape(x, (n, -1)), 1)
        return F.reshape(y, x.shape)

    def new(x, *, axis=-1):
        return fn(x, axis % max(x.ndim, 1))
    return old, new


def _hardmax(x, axis):
    a = _a(x)
    i = np.argmax(a, axis=axis)
    out = np.zeros_like(a)
    np.put_along_axis(out, np.expand_dims(i, axis), 1, axis=axis)
    return _const(out, x)


for _name, _fn in (("Softmax", lambda x, ax: _softmax_along(x, ax)),
                   ("LogSoftmax", lambda x, ax: _softmax_along(x, ax, log=True)),
                   ("Hardmax", _hardmax)):
    _old, _new = _flattened(_fn)
    rule(_name, 1, 11)(_old)
    rule(_name, 13)(_new)
