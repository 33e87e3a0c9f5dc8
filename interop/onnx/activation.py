"""ONNX rules for autocompyute/ops/activation.py, and the import rules for ONNX's other activation functions
(Elu, Selu, Celu, Softsign, the hard forms, Mish, Swish, Shrink, PRelu; LeakyRelu and Softplus are
engine unary Ops and live in unary.py)."""
from autocompyute.ops import activation
from .registry import export_rule

# ---- export ----


@export_rule(activation.Elu)
def _export_elu(g, op, inputs):
    return g.add_node("Elu", inputs, alpha=float(op.alpha))


# ---- import ----

import numpy as np  # noqa: E402

import autocompyute.functional as F  # noqa: E402

from ._import_util import const, is_float, rule, scalar_like, values  # noqa: E402


@rule("Softsign", 1)
def softsign(x): return x / (F.abs(x) + 1.0)


@rule("Elu", 1, 6)
def elu(x, *, alpha=1.0):
    return F.where(x > 0, x, (F.exp(F.minimum(x, scalar_like(x, 0))) - 1.0) * alpha)


@rule("Celu", 12)
def celu(x, *, alpha=1.0):
    return F.maximum(x, scalar_like(x, 0)) + F.minimum(
        scalar_like(x, 0), (F.exp(F.minimum(x, scalar_like(x, 0)) / alpha) - 1.0) * alpha)


@rule("Selu", 1, 6)
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return F.where(x > 0, x * gamma, (F.exp(F.minimum(x, scalar_like(x, 0))) - 1.0) * (alpha * gamma))


@rule("ThresholdedRelu", 10)
def thresholded_relu(x, *, alpha=1.0):
    return F.where(x > alpha, x, scalar_like(x, 0))


@rule("HardSigmoid", 1, 6)
def hard_sigmoid(x, *, alpha=0.2, beta=0.5):
    return F.clamp(x * alpha + beta, 0.0, 1.0)


@rule("HardSwish", 14)
def hard_swish(x):
    return x * F.clamp(x * (1 / 6) + 0.5, 0.0, 1.0)


@rule("Mish", 18)
def mish(x):
    return x * F.tanh(F.softplus(x))


@rule("Swish", 24)
def swish(x, *, alpha=1.0):
    return x * F.sigmoid(x * alpha)


@rule("Shrink", 9)
def shrink(x, *, bias=0.0, lambd=0.5):
    if not is_float(x):  # computed in floating point, truncated back to x's integer type (as onnxruntime)
        a = values(x)
        return const(np.where(a < -lambd, a + bias, np.where(a > lambd, a - bias, 0)).astype(x.dtype), x)
    zero = scalar_like(x, 0)
    return F.where(x < -lambd, x + bias, F.where(x > lambd, x - bias, zero))


@rule("PRelu", 1, 6, 7, 9, 16)
def prelu(x, slope):
    if slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != x.shape[-1]:
        slope = F.reshape(slope, (-1,) + (1,) * (x.ndim - 2))  # opset < 7: the slope runs along channels
    return F.where(x < 0, x * slope, x)
