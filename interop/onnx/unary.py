"""ONNX rules for autocompyute/ops/unary.py: elementwise functions of one tensor (the engine's, and the rest of
ONNX's elementwise math: inverse and hyperbolic trigonometry, rounding, Sign, IsNaN/IsInf), casts and BitCast."""
import math

import numpy as np

from autocompyute.ops import unary
from .registry import export_rule

# ---- export ----
_SAME_NAME = {unary.Neg: "Neg", unary.Abs: "Abs", unary.Exp: "Exp", unary.Log: "Log", unary.Sqrt: "Sqrt",
              unary.Sin: "Sin", unary.Cos: "Cos", unary.Tanh: "Tanh", unary.Sigmoid: "Sigmoid",
              unary.Relu: "Relu", unary.Erf: "Erf"}


@export_rule(*_SAME_NAME)
def _export_elementwise(g, op, inputs):
    return g.add_node(_SAME_NAME[type(op)], g.inputs_as(op, inputs))


@export_rule(unary.Rsqrt)
def _export_rsqrt(g, op, inputs):
    return g.add_node("Reciprocal", [g.add_node("Sqrt", inputs)])


@export_rule(unary.LeakyRelu)
def _export_leaky_relu(g, op, inputs):
    return g.add_node("LeakyRelu", inputs, alpha=float(op.negative_slope))


@export_rule(unary.Gelu)
def _export_gelu(g, op, inputs):
    (x,) = inputs
    if g.opset >= 20:
        return g.add_node("Gelu", [x], approximate=op.approximate)
    dtype = op.inputs[0].dtype
    half = g.add_node("Mul", [x, g.const(0.5, dtype)])
    if op.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.add_node("Mul", [g.add_node("Pow", [x, g.const(3.0, dtype)]), g.const(0.044715, dtype)])
        inner = g.add_node("Mul", [g.add_node("Add", [x, cube]), g.const(math.sqrt(2 / math.pi), dtype)])
        phi = g.add_node("Tanh", [inner])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        phi = g.add_node("Erf", [g.add_node("Mul", [x, g.const(1 / math.sqrt(2), dtype)])])
    return g.add_node("Mul", [half, g.add_node("Add", [phi, g.const(1.0, dtype)])])


@export_rule(unary.Silu)
def _export_silu(g, op, inputs):
    (x,) = inputs
    return g.add_node("Mul", [x, g.add_node("Sigmoid", [x])])


@export_rule(unary.Softplus)
def _export_softplus(g, op, inputs):
    (x,) = inputs
    if op.beta == 1.0 and op.threshold >= 20.0:  # past 20, log(1 + e^x) == x in float32 already
        return g.add_node("Softplus", [x])
    dtype = op.inputs[0].dtype
    z = g.add_node("Mul", [x, g.const(op.beta, dtype)])
    soft = g.add_node("Div", [g.add_node("Softplus", [z]), g.const(op.beta, dtype)])
    return g.add_node("Where", [g.add_node("Greater", [z, g.const(op.threshold, dtype)]), x, soft])


@export_rule(unary.Clamp)
def _export_clamp(g, op, inputs):
    dtype = op.inputs[0].dtype
    lo = "" if op.min is None else g.const(op.min, dtype)
    hi = "" if op.max is None else g.const(op.max, dtype)
    return g.add_node("Clip", [inputs[0], lo, hi])


@export_rule(unary.Cast)
def _export_cast(g, op, inputs):
    return g.cast(inputs[0], np.dtype(op.dtype))


@export_rule(unary.ToDevice)
def _export_to_device(g, op, inputs):
    # Device moves are not part of an ONNX graph: the runtime places tensors itself.
    return g.add_node("Identity", inputs)


# ---- import ----

from onnx import helper  # noqa: E402

import autocompyute.functional as F  # noqa: E402
from autocompyute.ops.onnx_ops import pointwise  # noqa: E402
from autocompyute.tensor import Tensor  # noqa: E402

from ..errors import OnnxImportError  # noqa: E402
from . import safety  # noqa: E402
from ._import_util import const, is_float, rule, scalar, values  # noqa: E402
from .registry import import_rule  # noqa: E402


def _simple(op_type, fn, *versions):
    for since in versions:
        import_rule(op_type, since=since)(lambda x, _fn=fn: _fn(x))


def _legacy(op_type, fn):
    """Opset 1: the same function, with the `consumed_inputs` hint (meaningless to an eager engine)."""
    import_rule(op_type, since=1)(lambda x, *, consumed_inputs=None, _fn=fn: _fn(x))


for _op, _fn in (("Relu", F.relu), ("Sigmoid", F.sigmoid), ("Tanh", F.tanh), ("Sqrt", F.sqrt), ("Exp", F.exp),
                 ("Log", F.log), ("Neg", F.neg), ("Abs", F.abs)):
    _legacy(_op, _fn)
    _simple(_op, _fn, 6, 13)
_simple("Erf", F.erf, 6)
_simple("Sin", F.sin, 7)
_simple("Cos", F.cos, 7)


@import_rule("Identity", since=1)
def identity(x):
    return x


@import_rule("Clip", since=6)
def clip_6(x, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):  # noqa: A002
    return F.clamp(x, min, max)


@import_rule("Clip", since=11)
def clip_11(x, min=None, max=None):  # noqa: A002
    if x.dtype.kind != "f":  # integer clip: no gradient, exact integer bounds
        lo, hi = scalar(min), scalar(max)
        return Tensor(x.xp.clip(x.data, lo, hi).astype(x.dtype))
    return F.clamp(x, scalar(min), scalar(max))


@import_rule("Gelu", since=20)
def gelu(x, *, approximate="none"):
    return F.gelu(x, approximate=approximate)


@rule("LeakyRelu", 1, 6, 16)
def leaky_relu(x, *, alpha=0.01):
    if not is_float(x):
        raise OnnxImportError(f"LeakyRelu takes floating-point input, not {x.dtype}")
    return F.where(x < 0, x * alpha, x)


@rule("Softplus", 1)
def softplus(x):
    return F.softplus(x)


@import_rule("Cast", since=6)
def cast(x, *, to, saturate=1, round_mode="up"):
    return F.cast(x, safety.numpy_dtype(to, "Cast"))


@import_rule("CastLike", since=15)
def cast_like(x, like, *, saturate=1, round_mode="up"):
    return F.cast(x, like.dtype)


@rule("Reciprocal", 6, 13)
def reciprocal(x):
    return 1.0 / x


_legacy("Reciprocal", reciprocal)


# ---- the rest of ONNX's elementwise math ----
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
    return pointwise(x, "sign") if is_float(x) else const(np.sign(values(x)), x)


@rule("Sinh", 9)
def sinh(x): return (F.exp(x) - F.exp(-x)) * 0.5
@rule("Cosh", 9)
def cosh(x): return (F.exp(x) + F.exp(-x)) * 0.5
@rule("Asinh", 9)
def asinh(x): return pointwise(x, "asinh")
@rule("Acosh", 9)
def acosh(x): return pointwise(x, "acosh")
@rule("Atanh", 9)
def atanh(x): return pointwise(x, "atanh")


@rule("IsNaN", 9, 13, 20)
def isnan(x): return const(np.isnan(values(x)), x)


@rule("IsInf", 10, 20)
def isinf(x, *, detect_negative=1, detect_positive=1):
    a = values(x)
    return const((np.isposinf(a) & bool(detect_positive)) | (np.isneginf(a) & bool(detect_negative)), x)


@rule("BitCast", 26)
def bit_cast(x, *, to):
    """The same bytes read as another element type of the same width (no gradient)."""
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(to))
    a = np.array(values(x), order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    if dtype.itemsize != a.dtype.itemsize:
        raise ValueError(f"BitCast: {a.dtype} and {dtype} differ in width")
    return const(a.view(dtype), x)
