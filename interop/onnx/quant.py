"""Import rules for quantisation: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
QLinearConv, MatMulInteger and ConvInteger.

Quantised values are integers, so the rules that produce them compute on arrays and return constants (no
gradient). DequantizeLinear is differentiable in its scale: y = (x - zero_point) * scale through the Tensor API.
Scales and zero points are per tensor (a scalar), per axis (1-D along `axis`) or blocked (`block_size` > 0: the
same rank as x, each entry covering `block_size` consecutive elements along `axis`).
"""
import numpy as np
from onnx import helper

import autocompyute.functional as F

from ._import_util import axis as wrap_axis, const, values
from .registry import find_import_rule, import_rule

_RANGES = {np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max) for t in
           (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32)}


def _spread(p, x_shape, axis, block_size):
    """A scale or zero point (array) broadcastable against x: scalar, per-axis 1-D, or blocked."""
    p = np.asarray(p)
    ndim = len(x_shape)
    if p.ndim == 0 or p.size == 1 and block_size == 0:
        return p.reshape(())
    axis = wrap_axis(axis, ndim)
    if block_size:
        p = np.repeat(p, block_size, axis=axis)
        return np.take(p, np.arange(x_shape[axis]), axis=axis)
    return p.reshape([-1 if d == axis else 1 for d in range(ndim)])


def _spread_tensor(t, x_shape, axis, block_size):
    """The same for a float Tensor (the scale), keeping its gradient."""
    ndim = len(x_shape)
    if t.ndim == 0 or t.numel() == 1 and block_size == 0:
        return F.reshape(t, ())
    axis = wrap_axis(axis, ndim)
    if block_size:
        idx = np.minimum(np.arange(x_shape[axis]) // block_size, t.shape[axis] - 1)
        return t[(slice(None),) * axis + (idx,)]
    return F.reshape(t, [-1 if d == axis else 1 for d in range(ndim)])


def _quantize(x, scale, zero_point, dtype):
    """saturate(round_half_even(x / scale) + zero_point) in `dtype` (x, scale, zero_point: arrays)."""
    lo, hi = _RANGES[np.dtype(dtype)]
    q = np.rint(x / scale) + zero_point  # in x's precision, as the reference computes
    return np.clip(q, lo, hi).astype(dtype)


def _out_dtype(zero_point, output_dtype, default=np.uint8):
    if zero_point is not None:
        return zero_point.dtype
    if output_dtype:
        return np.dtype(helper.tensor_dtype_to_np_dtype(output_dtype))
    return np.dtype(default)


@import_rule("QuantizeLinear", since=10)
def quantize_linear(x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, saturate=1,
                    precision=0):
    dtype = _out_dtype(y_zero_point, output_dtype)
    if dtype not in _RANGES:
        raise ValueError(f"QuantizeLinear: output type {dtype} is not supported")
    xa = values(x)
    scale = _spread(values(y_scale), xa.shape, axis, block_size)
    zp = 0 if y_zero_point is None else _spread(values(y_zero_point), xa.shape, axis, block_size)
    return const(_quantize(xa, scale, zp, dtype), x)


@import_rule("DequantizeLinear", since=10)
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    """y = (x - zero_point) * scale, differentiable in the scale."""
    xa = values(x).astype(np.int64)
    if x_zero_point is not None:
        xa = xa - _spread(values(x_zero_point), xa.shape, axis, block_size).astype(np.int64)
    y = const(xa.astype(x_scale.dtype), x_scale) * _spread_tensor(x_scale, xa.shape, axis, block_size)
    if output_dtype:
        y = F.cast(y, helper.tensor_dtype_to_np_dtype(output_dtype))
    return y


@import_rule("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x):
    """uint8 quantisation with the scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255]."""
    xa = values(x)
    lo, hi = min(float(xa.min(initial=0)), 0.0), max(float(xa.max(initial=0)), 0.0)
    scale = np.float32((hi - lo) / 255.0)
    zp = np.clip(np.rint(-lo / scale) if scale else 0, 0, 255).astype(np.uint8)
    y = _quantize(xa, scale, zp, np.uint8) if scale else np.full(xa.shape, zp, np.uint8)
    return const(y, x), const(np.asarray(scale, xa.dtype), x), const(zp, x)


def _dequant(x, scale, zp, axis=1):
    xa = values(x).astype(np.int64)
    if zp is not None:
        xa = xa - _spread(values(zp), xa.shape, axis, 0).astype(np.int64)
    return xa * _spread(values(scale).astype(np.float64), xa.shape, axis, 0)


@import_rule("QLinearMatMul", since=10)
def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """Dequantise, multiply, quantise again: b's scale and zero point may be per column (its last axis)."""
    fa = _dequant(a, a_scale, a_zero_point, axis=-2 if values(a_scale).size > 1 else 1)
    fb = _dequant(b, b_scale, b_zero_point, axis=-1)
    y = np.matmul(fa, fb)
    return const(_quantize(y, values(y_scale).astype(np.float64), values(y_zero_point), values(y_zero_point).dtype),
                 a)


def _int_conv(x, w, attrs, opset=22):
    """An integer convolution computed exactly in float64 through the Conv rule."""
    conv = find_import_rule("", "Conv", opset)
    return values(conv(const(x), const(w), **attrs))


@import_rule("QLinearConv", since=10)
def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, b=None, **attrs):
    fx = _dequant(x, x_scale, x_zero_point)
    fw = _dequant(w, w_scale, w_zero_point, axis=0)
    y = _int_conv(fx, fw, attrs)
    if b is not None:  # int32 bias in units of x_scale * w_scale
        bias = values(b).astype(np.float64) * np.asarray(values(x_scale), np.float64).reshape(-1) * \
            np.asarray(values(w_scale), np.float64).reshape(-1)
        y = y + bias.reshape([-1] + [1] * (y.ndim - 2))
    zp = values(y_zero_point)
    return const(_quantize(y, values(y_scale).astype(np.float64), zp, zp.dtype), x)


@import_rule("ConvInteger", since=10)
def conv_integer(x, w, x_zero_point=None, w_zero_point=None, **attrs):
    fx = values(x).astype(np.float64) - (0 if x_zero_point is None else values(x_zero_point).astype(np.float64))
    fw = values(w).astype(np.float64)
    if w_zero_point is not None:
        fw = fw - _spread(values(w_zero_point), fw.shape, 0, 0).astype(np.float64)
    return const(np.rint(_int_conv(fx, fw, attrs)).astype(np.int32), x)


@import_rule("MatMulInteger", since=10)
def matmul_integer(a, b, a_zero_point=None, b_zero_point=None):
    fa = values(a).astype(np.int64)
    fb = values(b).astype(np.int64)
    if a_zero_point is not None:
        zp = values(a_zero_point).astype(np.int64)
        fa = fa - (zp.reshape(-1, 1) if zp.size > 1 else zp.reshape(()))
    if b_zero_point is not None:
        fb = fb - values(b_zero_point).astype(np.int64).reshape(-1) if values(b_zero_point).size > 1 else \
            fb - values(b_zero_point).astype(np.int64).reshape(())
    return const(np.matmul(fa, fb).astype(np.int32), a)
