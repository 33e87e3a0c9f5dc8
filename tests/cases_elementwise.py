"""Cases for ops/unary.py and ops/binary.py."""
import math

import numpy as np

import autocompyute as ac
from op_cases import Away, B, C, Case, I, P, U

_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


CASES = [
    Case("neg", lambda x: -x, (U(3, 4),), lambda x: -x),
    Case("abs", lambda x: x.abs(), (Away(3, 4),), np.abs),
    Case("exp", lambda x: x.exp(), (U(3, 4),), np.exp),
    Case("log", lambda x: x.log(), (P(3, 4),), np.log),
    Case("sqrt", lambda x: x.sqrt(), (P(3, 4),), np.sqrt),
    Case("rsqrt", lambda x: x.rsqrt(), (P(3, 4),), lambda x: 1 / np.sqrt(x)),
    Case("sin", lambda x: x.sin(), (U(3, 4),), np.sin),
    Case("cos", lambda x: x.cos(), (U(3, 4),), np.cos),
    Case("tanh", lambda x: x.tanh(), (U(3, 4),), np.tanh),
    Case("sigmoid", lambda x: x.sigmoid(), (U(3, 4, low=-8, high=8),), _sigmoid),
    Case("relu", lambda x: x.relu(), (Away(3, 4),), lambda x: np.maximum(x, 0)),
    Case("relu6", lambda x: ac.relu6(x * 4), (Away(3, 4),), lambda x: np.clip(x * 4, 0, 6)),
    Case("leaky_relu", lambda x: ac.leaky_relu(x, 0.2), (Away(3, 4),), lambda x: np.where(x > 0, x, 0.2 * x)),
    Case("gelu", lambda x: ac.gelu(x), (U(3, 4, low=-4, high=4),), lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2)))),
    Case("gelu_tanh", lambda x: ac.gelu(x, approximate="tanh"), (U(3, 4, low=-4, high=4),),
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    Case("silu", lambda x: ac.silu(x), (U(3, 4, low=-5, high=5),), lambda x: x * _sigmoid(x)),
    Case("softplus", lambda x: ac.softplus(x), (U(3, 4, low=-5, high=5),), _softplus),
    Case("softplus_beta_threshold", lambda x: ac.softplus(x * 5, beta=2.0, threshold=4.0), (Away(3, 4, gap=0.05),),
         lambda x: _softplus(x * 5, 2.0, 4.0)),
    Case("erf", lambda x: x.erf(), (U(3, 4),), _erf),
    Case("clamp", lambda x: x.clamp(-1.0, 0.5), (Away(4, 5),), lambda x: np.clip(x, -1, 0.5)),
    Case("clamp_min_only", lambda x: x.clamp(min=0.25), (Away(4, 5),), lambda x: np.maximum(x, 0.25)),
    Case("cast_f64_f32_f64", lambda x: x.float().double() * 2, (U(3),), lambda x: x * 2, eps=1e-2),
    Case("cast_to_int", lambda x: (x * 3).long(), (U(5),), lambda x: np.trunc(x * 3).astype(np.int64), grad=False),
    Case("add", lambda a, b: a + b, (U(3, 4), U(3, 4)), np.add),
    Case("add_broadcast", lambda a, b: a + b, (U(2, 3, 4), U(3, 1)), np.add),
    Case("add_scalar", lambda a: 2.5 + a, (U(3),), lambda a: 2.5 + a),
    Case("sub_broadcast", lambda a, b: a - b, (U(4, 1), U(1, 5)), np.subtract),
    Case("rsub_scalar", lambda a: 1.0 - a, (U(3),), lambda a: 1.0 - a),
    Case("mul_broadcast", lambda a, b: a * b, (U(2, 3, 4), U(4)), np.multiply),
    Case("div", lambda a, b: a / b, (U(3, 4), P(3, 4)), np.divide),
    Case("div_broadcast", lambda a, b: a / b, (U(2, 3), P(2, 1)), np.divide),
    Case("rdiv_scalar", lambda a: 1.0 / a, (P(3),), lambda a: 1.0 / a),
    Case("pow", lambda a, b: a ** b, (P(3, 4), U(3, 4)), np.power),
    Case("pow_scalar", lambda a: a ** 3, (U(3, 4),), lambda a: a ** 3),
    Case("rpow_scalar", lambda a: 2.0 ** a, (U(3, 4),), lambda a: 2.0 ** a),
    Case("maximum", lambda a, b: ac.maximum(a, b), (U(3, 4), U(3, 4)), np.maximum),
    Case("minimum_broadcast", lambda a, b: ac.minimum(a, b), (U(3, 4), U(4)), np.minimum),
    Case("maximum_ties", lambda a: ac.maximum(a, a * 1.0), (U(5),), lambda a: a),
    Case("where", lambda c, a, b: ac.where(c, a, b), (B(3, 4), U(3, 4), U(4)), np.where),
    Case("where_full_b", lambda c, a, b: ac.where(c, a, b), (B(4), U(1, 4), U(3, 4)), np.where),
    Case("where_no_full_side", lambda c, a, b: ac.where(c, a, b), (B(3, 1), U(1, 4), U(4)), np.where),
    Case("where_scalar", lambda c, a: ac.where(c, a, 0.0), (B(3, 4), U(3, 4)), lambda c, a: np.where(c, a, 0.0)),
    Case("tensor_reused", lambda x: x * x + x.exp() * x, (U(3, 4),), lambda x: x * x + np.exp(x) * x),
    Case("eq", lambda a, b: a == b, (I(3, 4, 5), I(3, 4, 5)), np.equal, grad=False),
    Case("ne", lambda a, b: a != b, (I(3, 4, 5), I(3, 5)), np.not_equal, grad=False),
    Case("lt", lambda a, b: a < b, (U(4, 5), U(4, 5)), np.less, grad=False),
    Case("le", lambda a, b: a <= b, (I(3, 4, 5), I(3, 4, 5)), np.less_equal, grad=False),
    Case("gt", lambda a: a > 0.5, (U(4, 5),), lambda a: a > 0.5, grad=False),
    Case("ge", lambda a, b: a >= b, (U(4, 5), U(5)), np.greater_equal, grad=False),
    Case("logical_and", lambda a, b: a & b, (B(4, 5), B(4, 5)), np.logical_and, grad=False),
    Case("logical_or", lambda a, b: a | b, (B(4, 5), B(5)), np.logical_or, grad=False),
    Case("logical_xor", lambda a, b: a ^ b, (B(4, 5), B(4, 5)), np.logical_xor, grad=False),
    Case("logical_not", lambda a: ~a, (B(4, 5),), np.logical_not, grad=False),
    Case("sum_all", lambda x: x.sum(), (U(3, 4),), np.sum),
    Case("sum_dims_keepdim", lambda x: x.sum(dim=(0, -1), keepdim=True), (U(2, 3, 4),),
         lambda x: x.sum(axis=(0, 2), keepdims=True)),
    Case("mean_dim", lambda x: x.mean(1), (U(2, 3, 4),), lambda x: x.mean(axis=1)),
    Case("mean_neg_dim_keepdim", lambda x: x.mean(-1, keepdim=True), (U(2, 3, 4),), lambda x: x.mean(-1, keepdims=True)),
    Case("sum_bool", lambda m: m.sum(), (B(4, 5),), lambda m: np.sum(m), grad=False),
    Case("constant_input", lambda x, c: x * c, (U(3), C([1.0, -2.0, 3.0])), lambda x, c: x * c, wrt=(0,)),
]
