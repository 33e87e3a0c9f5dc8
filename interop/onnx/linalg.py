"""ONNX rules for autocompyute/ops/linalg.py: matrix products; on the import side also Einsum and Det (their
engine Ops live in autocompyute/ops/onnx_ops.py)."""
from autocompyute.ops import linalg
from .registry import export_rule

# ---- export ----


@export_rule(linalg.MatMul)
def _export_matmul(g, op, inputs):
    return g.add_node("MatMul", g.inputs_as(op, inputs))


# ---- import ----

import numpy as np  # noqa: E402

import autocompyute.functional as F  # noqa: E402
from autocompyute.ops.onnx_ops import det, einsum, einsum_parts  # noqa: E402

from ._import_util import check_alloc, check_broadcast, const, is_float, rule, values  # noqa: E402
from .registry import import_rule  # noqa: E402


@import_rule("MatMul", since=1)
def matmul(a, b):
    if a.ndim >= 2 and b.ndim >= 2:                   # the product's size first: broadcast batch dims x M x N
        check_broadcast((a.shape[:-2], b.shape[:-2]), np.result_type(a.dtype, b.dtype), "MatMul",
                        (a.shape[-2], b.shape[-1]))
    if a.ndim > 2 and b.ndim == 2:  # (..., K) @ (K, N): one GEMM over all rows (as Linear), not one per batch
        return F.linear(a, b.T)
    return F.matmul(a, b)


@import_rule("Gemm", since=7)
def gemm(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):  # noqa: N803
    a = a.T if transA else a
    if a.ndim == b.ndim == 2:
        check_alloc((a.shape[0], b.shape[0] if transB else b.shape[1]), np.result_type(a.dtype, b.dtype), "Gemm")
    if transB and c is not None and alpha == 1.0 and beta == 1.0 and c.ndim == 1:
        return F.linear(a, b, c)  # the common Linear layer: one fused op
    y = F.matmul(a, b.T if transB else b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@import_rule("Gemm", since=6)
@import_rule("Gemm", since=1)
def gemm_legacy(a, b, c=None, *, alpha=1.0, beta=1.0, broadcast=0, transA=0, transB=0):  # noqa: N803
    """Opset 1-6: C broadcasts only with broadcast=1; broadcasting it always gives the same result."""
    return gemm(a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)


@rule("Einsum", 12)
def einsum_(*xs, equation):
    terms, out = einsum_parts(equation, [x.ndim for x in xs])
    sizes = {}  # each subscript's length (the largest where a length-1 dim broadcasts)
    for t, x in zip(terms, xs):
        for c, d in zip(t, x.shape):
            sizes[c] = max(sizes.get(c, 1), d)
    check_alloc([sizes.get(c, 1) for c in out], np.result_type(*[x.dtype for x in xs]), "Einsum")
    if all(is_float(x) for x in xs):
        return einsum(equation, *xs)
    return const(np.einsum(equation, *[values(x) for x in xs]), xs[0])


@rule("Det", 11, 22)
def det_(x):
    return det(x)
