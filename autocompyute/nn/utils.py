"""Gradient clipping. Gradients are replaced, never modified in place (a .grad array may be shared)."""
import math

from ..tensor import Tensor


def _with_grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most max_norm; returns the norm before
    clipping (a 0-d Tensor). The scale is max_norm / (norm + 1e-6), applied only when it is below 1."""
    params = _with_grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(0.0)
    xp = params[0].xp
    if math.isinf(norm_type):
        total = max(float(xp.abs(p.grad).max()) for p in params)
    else:
        total = sum(float((xp.abs(p.grad.astype(xp.float64)) ** norm_type).sum()) for p in params) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is non-finite ({total})")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad = p.grad * p.grad.dtype.type(coef)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    for p in _with_grads(parameters):
        p.grad = p.xp.clip(p.grad, -clip_value, clip_value)
