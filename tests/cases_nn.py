"""Cases for ops/linear.py, ops/norm.py, ops/loss.py, ops/dropout.py and ops/activation.py."""
import numpy as np

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute.ops.dropout import Dropout
from op_cases import Away, C, Case, I, P, U


# ---- numpy references ----
def _linear(x, w, b=None):
    y = np.einsum("...i,oi->...o", x, w)
    return y if b is None else y + b


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _ce_indices(x, y, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """A loop-free transcription of PyTorch's documented formula, class dim 1."""
    logp = _log_softmax(x, 1 if x.ndim > 1 else 0)
    if x.ndim == 1:
        logp, y = logp[None], np.asarray(y)[None]
    c = logp.shape[1]
    w = np.ones(c) if weight is None else weight
    logp = np.moveaxis(logp, 1, -1)                         # (N, ..., C)
    valid = y != ignore_index
    ys = np.where(valid, y, 0)
    picked = np.take_along_axis(logp, ys[..., None], -1)[..., 0]
    wy = w[ys] * valid
    loss = -(1 - eps) * wy * picked - eps / c * (logp * w).sum(-1) * valid
    if x.ndim == 1:
        loss = loss[0]
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / wy.sum()


def _ce_probs(x, t, weight=None, reduction="mean", eps=0.0):
    logp = _log_softmax(x, 1)
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    q = ((1 - eps) * t + eps / c) * w.reshape((1, c) + (1,) * (x.ndim - 2))
    loss = -(q * logp).sum(1)
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def _nll(x, y, weight=None, ignore_index=-100, reduction="mean"):
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    xm = np.moveaxis(x, 1, -1)
    valid = y != ignore_index
    ys = np.where(valid, y, 0)
    wy = w[ys] * valid
    loss = -wy * np.take_along_axis(xm, ys[..., None], -1)[..., 0]
    return {"none": loss, "sum": loss.sum(), "mean": loss.sum() / wy.sum()}.get(reduction)


def _reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def _layer_norm(x, w, b, n_dims, eps=1e-5):
    axes = tuple(range(x.ndim - n_dims, x.ndim))
    mu = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _batch_norm_train(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


def _batch_norm_eval(x, w, b, rm, rv, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


def _group_norm(x, groups, w, b, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    g = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return g.reshape(x.shape) * w.reshape(shape) + b.reshape(shape)


def _bce(p, t, w=None):
    loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
    return loss if w is None else loss * w


def _bce_logits(x, t, w=None, pw=None):
    s = 1 / (1 + np.exp(-x))
    pw = 1.0 if pw is None else pw
    loss = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    return loss if w is None else loss * w


def _smooth_l1(a, b, beta):
    d = np.abs(a - b)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def _seeded_dropout(x, p, seed=3):
    ac.manual_seed(seed)
    return F.dropout(x, p, training=True)


def _dropout_ref(x, p, seed=3):
    u = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
    return x * (u >= p) / (1 - p)


def _embedding_ref(idx, w, padding_idx=None):
    return w[idx]


T = ac.tensor
W5 = C([0.5, 2.0, 1.0, 0.25, 1.5])        # class weights for 5 classes

CASES = [
    # ---- linear ----
    Case("linear", lambda x, w, b: F.linear(x, w, b), (U(4, 3), U(5, 3), U(5)), _linear),
    Case("linear_no_bias_3d", lambda x, w: F.linear(x, w), (U(2, 4, 3), U(5, 3)), _linear),
    Case("linear_1d_input", lambda x, w, b: F.linear(x, w, b), (U(3), U(2, 3), U(2)), _linear),
    Case("embedding", lambda i, w: F.embedding(i, w), (I(6, 3, 4), U(6, 5)), _embedding_ref, wrt=(1,)),
    Case("embedding_repeats", lambda w: F.embedding(T([[1, 2, 1], [0, 1, 2]]), w, padding_idx=3),
         (U(4, 3),), lambda w: w[np.array([[1, 2, 1], [0, 1, 2]])]),
    # ---- normalisation ----
    Case("layer_norm", lambda x, w, b: F.layer_norm(x, 4, w, b), (U(3, 4), U(4), U(4)),
         lambda x, w, b: _layer_norm(x, w, b, 1), rtol=1e-4, atol=1e-5),
    Case("layer_norm_2dims_no_affine", lambda x: F.layer_norm(x, (3, 4)), (U(2, 3, 4),),
         lambda x: _layer_norm(x, 1.0, 0.0, 2), rtol=1e-4, atol=1e-5),
    Case("batch_norm_train_2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         (U(5, 3), U(3), U(3)), _batch_norm_train, rtol=1e-4, atol=1e-5),
    Case("batch_norm_train_4d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
         (U(2, 3, 4, 5), U(3), U(3)), lambda x, w, b: _batch_norm_train(x, w, b, 1e-3), rtol=1e-4, atol=1e-5),
    Case("batch_norm_eval", lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False),
         (U(2, 3, 4), U(3), U(3), U(3), P(3)), _batch_norm_eval, wrt=(0, 1, 2), rtol=1e-4, atol=1e-5),
    Case("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), (U(2, 4, 3, 3), U(4), U(4)),
         lambda x, w, b: _group_norm(x, 2, w, b), rtol=1e-4, atol=1e-5),
    Case("instance_norm", lambda x: F.instance_norm(x), (U(2, 3, 4, 4),),
         lambda x: _group_norm(x, 3, np.ones(3), np.zeros(3)), rtol=1e-4, atol=1e-5),
    # ---- losses ----
    Case("cross_entropy", lambda x, y: F.cross_entropy(x, y), (U(6, 5), I(5, 6)), _ce_indices, wrt=(0,)),
    Case("cross_entropy_sum", lambda x, y: F.cross_entropy(x, y, reduction="sum"), (U(6, 5), I(5, 6)),
         lambda x, y: _ce_indices(x, y, reduction="sum"), wrt=(0,)),
    Case("cross_entropy_full", lambda x, y, w: F.cross_entropy(x, y, w, ignore_index=1, label_smoothing=0.2),
         (U(8, 5), I(5, 8), W5), lambda x, y, w: _ce_indices(x, y, w, 1, eps=0.2), wrt=(0,)),
    Case("cross_entropy_none_spatial", lambda x, y, w: F.cross_entropy(x, y, w, reduction="none",
                                                                        label_smoothing=0.1, ignore_index=0),
         (U(2, 5, 3, 2), I(5, 2, 3, 2), W5), lambda x, y, w: _ce_indices(x, y, w, 0, "none", 0.1), wrt=(0,)),
    Case("cross_entropy_unbatched", lambda x: F.cross_entropy(x, T(2)), (U(5),), lambda x: _ce_indices(x, 2)),
    Case("cross_entropy_probs", lambda x, t, w: F.cross_entropy(x, t, w, label_smoothing=0.3),
         (U(4, 5), P(4, 5, low=0.0, high=1.0), W5), lambda x, t, w: _ce_probs(x, t, w, eps=0.3), wrt=(0, 1)),
    Case("cross_entropy_probs_spatial_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
         (U(2, 3, 4), P(2, 3, 4, low=0.0, high=1.0)), lambda x, t: _ce_probs(x, t, reduction="sum")),
    Case("nll_loss", lambda x, y, w: F.nll_loss(x, y, w, ignore_index=2), (U(7, 5), I(5, 7), W5),
         lambda x, y, w: _nll(x, y, w, 2), wrt=(0,)),
    Case("nll_loss_none_spatial", lambda x, y: F.nll_loss(x, y, reduction="none"), (U(2, 5, 3), I(5, 2, 3)),
         lambda x, y: _nll(x, y, reduction="none"), wrt=(0,)),
    Case("mse_loss", lambda a, b: F.mse_loss(a, b), (U(3, 4), U(3, 4)), lambda a, b: ((a - b) ** 2).mean()),
    Case("mse_loss_none", lambda a, b: F.mse_loss(a, b, reduction="none"), (U(3, 4), U(3, 4)),
         lambda a, b: (a - b) ** 2),
    Case("l1_loss_sum", lambda a, b: F.l1_loss(a * 1.0, b, reduction="sum"), (Away(3, 4), C(np.zeros((3, 4)))),
         lambda a, b: np.abs(a - b).sum(), wrt=(0,)),
    Case("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), (U(4, 5), C(np.full((4, 5), 0.05))),
         lambda a, b: _smooth_l1(a, b, 0.5).mean(), wrt=(0,)),
    Case("smooth_l1_loss_both_none", lambda a, b: F.smooth_l1_loss(a, b, "none"), (U(6), U(6)),
         lambda a, b: _smooth_l1(a, b, 1.0)),
    Case("binary_cross_entropy", lambda p, t, w: F.binary_cross_entropy(p, t, w),
         (U(3, 4, low=0.05, high=0.95), U(3, 4, low=0.0, high=1.0), P(4)),
         lambda p, t, w: _bce(p, t, w).mean(), wrt=(0, 1)),
    Case("binary_cross_entropy_with_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
         (U(3, 4, low=-5, high=5), U(3, 4, low=0.0, high=1.0)), lambda x, t: _bce_logits(x, t).sum()),
    Case("binary_cross_entropy_with_logits_weights",
         lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, reduction="none"),
         (U(3, 4, low=-5, high=5), U(3, 4, low=0.0, high=1.0), P(3, 1), P(4)),
         lambda x, t, w, pw: _bce_logits(x, t, w, pw), wrt=(0, 1)),
    # ---- dropout (a fixed seed inside fn: every call draws the same mask) ----
    Case("dropout_seeded_mask", lambda x: _seeded_dropout(x, 0.4), (U(6, 7),), lambda x: _dropout_ref(x, 0.4)),
    Case("dropout_p0_op", lambda x: Dropout.apply(x, p=0.0), (U(3, 4),), lambda x: x),
    Case("dropout_p0_and_eval_identity", lambda x: F.dropout(x, 0.0) + F.dropout(x, 0.9, training=False),
         (U(3, 4),), lambda x: 2 * x),
    # ---- activations added here ----
    Case("elu", lambda x: F.elu(x, 0.7), (Away(3, 4),), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    Case("hardswish", lambda x: F.hardswish(x * 3), (Away(4, 5),), lambda x: x * 3 * np.clip(x * 3 + 3, 0, 6) / 6),
    Case("hardtanh", lambda x: F.hardtanh(x * 2, -1.5, 1.0), (Away(4, 5),), lambda x: np.clip(x * 2, -1.5, 1.0)),
]
