"""ONNX rules for autocompyute/ops/loss.py: the fused losses, as ONNX loss ops or small compositions; imported
NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss are composed from Tensor ops."""
import numpy as np

from autocompyute.ops import loss
from .norm import _channel_vector
from .registry import export_rule

# ---- export ----


def _reduced(g, op, x, divisor=None):
    """Apply the op's reduction ("none", "sum", "mean"; mean divides by `divisor` when given)."""
    if op.reduction == "none":
        return x
    if op.reduction == "sum":
        return g.reduce("ReduceSum", x, None, False)
    if divisor is None:
        return g.reduce("ReduceMean", x, None, False)
    return g.add_node("Div", [g.reduce("ReduceSum", x, None, False), divisor])


def _batched(g, op, x, target):
    """An unbatched (C,) input and () target become (1, C) and (1,)."""
    if op.inputs[0].ndim == 1:
        return g.unsqueeze(x, [0]), g.unsqueeze(target, [0]), True
    return x, target, False


@export_rule(loss.NllLoss, loss.CrossEntropy)
def _export_nll(g, op, inputs):
    x, target, unbatched = _batched(g, op, inputs[0], inputs[1])
    weight = [inputs[2]] if op.has_weight else []
    eps = getattr(op, "label_smoothing", 0.0)
    kind = "SoftmaxCrossEntropyLoss" if type(op) is loss.CrossEntropy else "NegativeLogLikelihoodLoss"
    if not eps:
        y = g.add_node(kind, [x, target] + weight, reduction=op.reduction, ignore_index=op.ignore_index)
        return g.squeeze(y, [0]) if unbatched and op.reduction == "none" else y
    # label smoothing: (1 - eps) * nll + eps / C * sum_c w[c] * -logp[c], on the elements not ignored
    ndim = max(op.inputs[0].ndim, 2)
    dtype = op.inputs[0].dtype
    n_classes = op.inputs[0].shape[0 if op.inputs[0].ndim == 1 else 1]
    logp = g.add_node("LogSoftmax", [x], axis=1)
    nll = g.add_node("NegativeLogLikelihoodLoss", [logp, target] + weight, reduction="none",
                     ignore_index=op.ignore_index)
    valid = g.cast(g.add_node("Not", [g.add_node("Equal", [target, g.const(np.int64(op.ignore_index))])]), dtype)
    weighted = g.add_node("Mul", [logp, _channel_vector(g, weight[0], ndim)]) if weight else logp
    smooth = g.add_node("Neg", [g.reduce("ReduceSum", weighted, [1], False)])
    per = g.add_node("Add", [g.add_node("Mul", [nll, g.const(1 - eps, dtype)]),
                             g.add_node("Mul", [g.add_node("Mul", [smooth, valid]), g.const(eps / n_classes, dtype)])])
    if unbatched and op.reduction == "none":
        per = g.squeeze(per, [0])
    divisor = None
    if op.reduction == "mean":
        wy = valid
        if weight:
            safe = g.add_node("Where", [g.cast(valid, np.bool_), target, g.const(np.int64(0))])
            wy = g.add_node("Mul", [g.add_node("Gather", [weight[0], safe], axis=0), valid])
        divisor = g.reduce("ReduceSum", wy, None, False)
    return _reduced(g, op, per, divisor)


@export_rule(loss.CrossEntropyProbs)
def _export_cross_entropy_probs(g, op, inputs):
    x, t = inputs[0], inputs[1]
    t0 = op.inputs[0]
    axis = 0 if t0.ndim == 1 else 1
    n_classes, dtype = t0.shape[axis], t0.dtype
    logp = g.add_node("LogSoftmax", [x], axis=axis)
    q = g.add_node("Add", [g.add_node("Mul", [t, g.const(1 - op.label_smoothing, dtype)]),
                           g.const(op.label_smoothing / n_classes, dtype)])
    if op.has_weight:
        q = g.add_node("Mul", [q, _channel_vector(g, inputs[2], max(t0.ndim, 2)) if t0.ndim > 1 else inputs[2]])
    per = g.add_node("Neg", [g.reduce("ReduceSum", g.add_node("Mul", [q, logp]), [axis], False)])
    return _reduced(g, op, per)


@export_rule(loss.MseLoss)
def _export_mse(g, op, inputs):
    d = g.add_node("Sub", list(inputs))
    return _reduced(g, op, g.add_node("Mul", [d, d]))


@export_rule(loss.L1Loss)
def _export_l1(g, op, inputs):
    return _reduced(g, op, g.add_node("Abs", [g.add_node("Sub", list(inputs))]))


@export_rule(loss.SmoothL1Loss)
def _export_smooth_l1(g, op, inputs):
    dtype = op.inputs[0].dtype
    d = g.add_node("Sub", list(inputs))
    ad = g.add_node("Abs", [d])
    quad = g.add_node("Mul", [g.add_node("Mul", [d, d]), g.const(0.5 / (op.beta or 1), dtype)])
    lin = g.add_node("Sub", [ad, g.const(0.5 * op.beta, dtype)])
    return _reduced(g, op, g.add_node("Where", [g.add_node("Less", [ad, g.const(op.beta, dtype)]), quad, lin]))


@export_rule(loss.BinaryCrossEntropy)
def _export_bce(g, op, inputs):
    p, t = inputs[0], inputs[1]
    dtype = op.inputs[0].dtype
    one, floor = g.const(1.0, dtype), g.const(-100.0, dtype)
    log_p = g.add_node("Max", [g.add_node("Log", [p]), floor])
    log_q = g.add_node("Max", [g.add_node("Log", [g.add_node("Sub", [one, p])]), floor])
    per = g.add_node("Neg", [g.add_node("Add", [g.add_node("Mul", [t, log_p]),
                                                g.add_node("Mul", [g.add_node("Sub", [one, t]), log_q])])])
    if op.has_weight:
        per = g.add_node("Mul", [per, inputs[2]])
    return _reduced(g, op, per)


@export_rule(loss.BinaryCrossEntropyWithLogits)
def _export_bce_logits(g, op, inputs):
    x, t = inputs[0], inputs[1]
    dtype = op.inputs[0].dtype
    one, zero = g.const(1.0, dtype), g.const(0.0, dtype)
    # log(1 + exp(-x)) = max(-x, 0) + log(1 + exp(-|x|)), stable for any x
    softplus_neg = g.add_node("Add", [g.add_node("Max", [g.add_node("Neg", [x]), zero]),
                                      g.add_node("Log", [g.add_node("Add", [one, g.add_node(
                                          "Exp", [g.add_node("Neg", [g.add_node("Abs", [x])])])])])])
    if op.has_pos_weight:  # 1 + (pos_weight - 1) * t
        pw = inputs[-1]
        softplus_neg = g.add_node("Mul", [softplus_neg, g.add_node("Add", [one, g.add_node(
            "Mul", [g.add_node("Sub", [pw, one]), t])])])
    per = g.add_node("Add", [g.add_node("Mul", [g.add_node("Sub", [one, t]), x]), softplus_neg])
    if op.has_weight:
        per = g.add_node("Mul", [per, inputs[2]])
    return _reduced(g, op, per)


# ---- import ----

import autocompyute.functional as F  # noqa: E402
from autocompyute.ops.onnx_ops import gather_map  # noqa: E402

from ..errors import OnnxImportError  # noqa: E402
from ._import_util import const, flat_positions, rule, scalar_like, values  # noqa: E402


def _log_softmax_along(x, axis):
    """The log-softmax along one axis, max-shifted."""
    m = const(np.max(values(x), axis=axis, keepdims=True), x)
    z = x - m
    lse = F.log(F.sum(F.exp(z), axis, keepdim=True))
    return z - lse


def _nll(logp, target, weight, reduction, ignore_index):
    if reduction not in ("none", "sum", "mean"):
        raise OnnxImportError(f"reduction {reduction!r} is none of none, sum, mean")
    """-logp[n, target[n, ...], ...] * weight[target], reduced as ONNX says (mean divides by the total weight)."""
    t = values(target).astype(np.int64)
    ignored = (t == ignore_index) if ignore_index is not None else np.zeros(t.shape, dtype=bool)
    safe = np.where(ignored, 0, t)
    c = logp.shape[1]
    pos = flat_positions(logp)  # (N, C, *d)
    picked = np.take_along_axis(pos, safe[:, None], axis=1)[:, 0]  # (N, *d)
    w = (values(weight)[safe] if weight is not None else np.ones(t.shape)) * ~ignored
    assert c > 0
    loss = -gather_map([logp], picked) * const(w.astype(logp.dtype), logp)
    if ignored.any():  # an ignored target's row may hold nan or inf, and nan * 0 is nan: its loss is 0 all the same
        loss = F.where(const(ignored, logp), scalar_like(logp, 0), loss)
    if reduction == "none":
        return loss
    total = F.sum(loss)
    return total if reduction == "sum" else total / scalar_like(logp, w.sum())


@rule("NegativeLogLikelihoodLoss", 12, 13, 22)
def negative_log_likelihood_loss(x, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(x, target, weight, reduction, ignore_index)


@rule("SoftmaxCrossEntropyLoss", 12, 13)
def softmax_cross_entropy_loss(scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    logp = _log_softmax_along(scores, 1) if scores.ndim > 1 else scores
    return _nll(logp, labels, weights, reduction, ignore_index), logp
