"""Fused losses with hand-written backward passes and PyTorch's semantics (reductions "none", "mean", "sum")."""
import math

from ..errors import DTypeError, check_indices, shape_error
from .base import Op
from .reduce import log_softmax_array
from .unary import _sigmoid, _softplus

REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction, divisor=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss.size if divisor is None else divisor)


def _grad_of_reduction(xp, dy, shape, reduction, divisor=None, weight=None):
    """d(reduced loss)/d(elementwise loss), broadcast to the elementwise loss's `shape`; times the elementwise
    `weight` when the loss was weighted."""
    if reduction == "none":
        g = dy
    else:
        scale = 1 if reduction == "sum" else 1 / (math.prod(shape) if divisor is None else divisor)
        g = xp.broadcast_to(dy * scale, shape)
    return g if weight is None else g * weight


def _classes_last(xp, x):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C). Returns the matrix and the batch shape."""
    if x.ndim == 1:
        return x.reshape(1, -1), ()
    moved = xp.moveaxis(x, 1, -1)
    return moved.reshape(-1, x.shape[1]), moved.shape[:-1]


def _classes_back(xp, g2, shape):
    """Inverse of _classes_last for a gradient (M, C) -> the input's shape."""
    if len(shape) == 1:
        return g2.reshape(shape)
    moved = g2.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return xp.moveaxis(moved, -1, 1)


def _class_targets(xp, op, y, n_classes, weight, ignore_index, dtype):
    """Integer targets (M,) checked against n_classes (ignore_index allowed): (y with ignored rows at class 0,
    the not-ignored mask, each row's weight w[y] (0 where ignored))."""
    valid = y != ignore_index
    check_indices(type(op).__name__, y, n_classes, what="target class", allow=ignore_index)
    y_safe = xp.where(valid, y, 0)
    wy = valid.astype(dtype) if weight is None else weight[y_safe] * valid
    return y_safe, valid, wy


class CrossEntropy(Op):
    """Softmax + negative log-likelihood over the class dim 1, with class-index targets.

    Attributes: reduction, ignore_index, label_smoothing, has_weight. Inputs: logits (N, C, ...), target
    (N, ...) integers, and optionally the class weights (C,). Each element's loss is
    (1 - eps) * w[y] * -logp[y] + eps / C * sum_c w[c] * -logp[c]; "mean" divides by the sum of w[y] over the
    elements that are not ignored (PyTorch's weighted mean).
    """
    def forward(self, x, target, weight=None):
        xp = self.xp
        x2, batch_shape = _classes_last(xp, x)                   # (M, C)
        y = target.reshape(-1)                                   # (M,)
        n_classes = x2.shape[1]
        logp = log_softmax_array(xp, x2, 1)                      # (M, C)
        y_safe, valid, wy = _class_targets(xp, self, y, n_classes, weight, self.ignore_index, x.dtype)
        picked = xp.take_along_axis(logp, y_safe[:, None], axis=1)[:, 0]
        eps = self.label_smoothing
        loss = -(1 - eps) * wy * picked
        w_sum = n_classes if weight is None else weight.sum()
        if eps:
            smooth = -logp.sum(axis=1) if weight is None else -(logp * weight).sum(axis=1)
            loss = loss + (eps / n_classes) * smooth * valid
        divisor = wy.sum()
        self.save(logp=logp, y=y_safe, valid=valid, wy=wy, weight=weight, divisor=divisor,
                  row_q=(1 - eps) * wy + (eps / n_classes) * w_sum * valid, x_shape=x.shape)
        return _reduce(loss.reshape(batch_shape).astype(x.dtype, copy=False), self.reduction, divisor)

    def backward(self, dy):
        xp, s = self.xp, self.saved
        m = s.logp.shape[0]
        g = _grad_of_reduction(xp, dy, (m,), self.reduction, s.divisor).reshape(-1)  # (M,)
        dx = xp.exp(s.logp) * (g * s.row_q)[:, None]             # softmax * sum_c q[c]
        dx[xp.arange(m), s.y] -= g * (1 - self.label_smoothing) * s.wy
        if self.label_smoothing:
            w = 1 if s.weight is None else s.weight[None, :]
            dx -= (g * s.valid * (self.label_smoothing / dx.shape[1]))[:, None] * w
        return (_classes_back(xp, dx, s.x_shape), None) + ((None,) if self.has_weight else ())


class CrossEntropyProbs(Op):
    """Cross-entropy against class probabilities (target of the logits' shape): each element's loss is
    -sum_c w[c] * t'[c] * logp[c] with t' = (1 - eps) * t + eps / C; "mean" divides by the element count."""
    def forward(self, x, target, weight=None):
        xp = self.xp
        x2, batch_shape = _classes_last(xp, x)                   # (M, C)
        t2, _ = _classes_last(xp, target)
        n_classes = x2.shape[1]
        logp = log_softmax_array(xp, x2, 1)
        eps = self.label_smoothing
        q = (1 - eps) * t2 + eps / n_classes                     # (M, C)
        if weight is not None:
            q = q * weight
        loss = -(q * logp).sum(axis=1)
        self.save(logp=logp, q=q, weight=weight, x_shape=x.shape)
        return _reduce(loss.reshape(batch_shape).astype(x.dtype, copy=False), self.reduction)

    def backward(self, dy):
        xp, s = self.xp, self.saved
        m = s.logp.shape[0]
        g = _grad_of_reduction(xp, dy, (m,), self.reduction).reshape(-1)
        g = g[:, None]
        dx = g * (xp.exp(s.logp) * s.q.sum(axis=1, keepdims=True) - s.q)
        dt = -g * (1 - self.label_smoothing) * s.logp
        if s.weight is not None:
            dt = dt * s.weight
        grads = (_classes_back(xp, dx, s.x_shape), _classes_back(xp, dt, s.x_shape))
        return grads + ((None,) if self.has_weight else ())


class NllLoss(Op):
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer targets (N, ...); weighted mean
    like PyTorch. Attributes: reduction, ignore_index, has_weight."""
    def forward(self, x, target, weight=None):
        xp = self.xp
        x2, batch_shape = _classes_last(xp, x)
        y = target.reshape(-1)
        y_safe, _, wy = _class_targets(xp, self, y, x2.shape[1], weight, self.ignore_index, x.dtype)
        loss = -wy * xp.take_along_axis(x2, y_safe[:, None], axis=1)[:, 0]
        divisor = wy.sum()
        self.save(y=y_safe, wy=wy, divisor=divisor, x_shape=x.shape, m=x2.shape[0], c=x2.shape[1])
        return _reduce(loss.reshape(batch_shape).astype(x.dtype, copy=False), self.reduction, divisor)

    def backward(self, dy):
        xp, s = self.xp, self.saved
        g = _grad_of_reduction(xp, dy, (s.m,), self.reduction, s.divisor).reshape(-1)
        dx = xp.zeros((s.m, s.c), dtype=dy.dtype)
        dx[xp.arange(s.m), s.y] = -g * s.wy
        return (_classes_back(xp, dx, s.x_shape), None) + ((None,) if self.has_weight else ())


class MseLoss(Op):
    """(input - target) ** 2, reduced."""
    def forward(self, a, b):
        d = a - b
        self.save(d=d)
        return _reduce(d * d, self.reduction)

    def backward(self, dy):
        d = self.saved.d
        g = 2 * d * _grad_of_reduction(self.xp, dy, d.shape, self.reduction)
        return g, -g


class L1Loss(Op):
    """|input - target|, reduced. The gradient at 0 is 0."""
    def forward(self, a, b):
        d = a - b
        self.save(sign=self.xp.sign(d))
        return _reduce(self.xp.abs(d), self.reduction)

    def backward(self, dy):
        sign = self.saved.sign
        g = sign * _grad_of_reduction(self.xp, dy, sign.shape, self.reduction)
        return g, -g


class SmoothL1Loss(Op):
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target); beta=0 gives L1."""
    def forward(self, a, b):
        xp = self.xp
        d = a - b
        ad = xp.abs(d)
        quad = ad < self.beta
        self.save(d=d, quad=quad)
        loss = xp.where(quad, 0.5 * d * d / (self.beta or 1), ad - 0.5 * self.beta)
        return _reduce(loss.astype(d.dtype, copy=False), self.reduction)

    def backward(self, dy):
        xp, d, quad = self.xp, self.saved.d, self.saved.quad
        local = xp.where(quad, d / (self.beta or 1), xp.sign(d))
        g = local * _grad_of_reduction(xp, dy, d.shape, self.reduction)
        return g, -g


class BinaryCrossEntropy(Op):
    """-w * (t * log(p) + (1 - t) * log(1 - p)) on probabilities p; each log is clamped at -100 like PyTorch."""
    def forward(self, p, t, weight=None):
        xp = self.xp
        log_p = xp.maximum(xp.log(p), -100)
        log_q = xp.maximum(xp.log1p(-p), -100)
        loss = -(t * log_p + (1 - t) * log_q)
        if weight is not None:
            loss = loss * weight
        self.save(p=p, t=t, weight=weight, log_p=log_p, log_q=log_q, shape=loss.shape)
        return _reduce(loss.astype(p.dtype, copy=False), self.reduction)

    def backward(self, dy):
        xp, s = self.xp, self.saved
        g = _grad_of_reduction(xp, dy, s.shape, self.reduction, weight=s.weight)
        dp = g * (s.p - s.t) / xp.maximum((1 - s.p) * s.p, 1e-12)
        dt = g * (s.log_q - s.log_p)
        return (dp, dt) + ((None,) if self.has_weight else ())


class BinaryCrossEntropyWithLogits(Op):
    """Sigmoid + binary cross-entropy in one stable formula:
    loss = (1 - t) * x + (1 + (pos_weight - 1) * t) * softplus(-x), times weight.
    Attributes: reduction, has_weight, has_pos_weight (inputs x, t, [weight], [pos_weight])."""
    def forward(self, x, t, *extra):
        xp = self.xp
        weight = extra[0] if self.has_weight else None
        pos_weight = extra[-1] if self.has_pos_weight else None
        softplus_neg = _softplus(xp, -x)                                     # log(1 + exp(-x))
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        loss = (1 - t) * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        self.save(x=x, t=t, weight=weight, pos_weight=pos_weight, softplus_neg=softplus_neg,
                  log_weight=log_weight, shape=loss.shape)
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction)

    def backward(self, dy):
        xp, s = self.xp, self.saved
        g = _grad_of_reduction(xp, dy, s.shape, self.reduction, weight=s.weight)
        sigmoid_neg = _sigmoid(xp, -s.x)
        dx = g * ((1 - s.t) - s.log_weight * sigmoid_neg)
        dt = g * (-s.x + (0 if s.pos_weight is None else (s.pos_weight - 1) * s.softplus_neg))
        return (dx, dt) + (None,) * (self.has_weight + self.has_pos_weight)


# ---- user-facing functions ----
def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _tensor(x, like):
    from ..tensor import Tensor
    return x if isinstance(x, Tensor) else Tensor(like.xp.asarray(x))


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):  # noqa: A002
    """Cross-entropy of logits `input` (N, C, ...) or (C,) against class indices (N, ...) or class
    probabilities (same shape as input), with PyTorch's semantics for weight, ignore_index and label_smoothing."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _tensor(target, input)
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise shape_error("cross_entropy", input.shape, weight.shape, why="weight must have one value per class")
    extra = () if weight is None else (weight,)
    attrs = dict(reduction=reduction, label_smoothing=float(label_smoothing), has_weight=weight is not None)
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise shape_error("cross_entropy", input.shape, target.shape,
                              why="class-probability targets must have the input's shape")
        return CrossEntropyProbs.apply(input, target, *extra, **attrs)
    _check_index_target("cross_entropy", input, target)
    return CrossEntropy.apply(input, target, *extra, ignore_index=int(ignore_index), **attrs)


def _check_index_target(name, input, target):  # noqa: A002
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{name}: class-index targets must be integers, got {target.dtype}")
    want = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != want:
        raise shape_error(name, input.shape, target.shape, why=f"target must have shape {want}")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """Negative log-likelihood of log-probabilities `input` (N, C, ...) at class indices `target` (N, ...)."""
    _check_reduction("nll_loss", reduction)
    target = _tensor(target, input)
    _check_index_target("nll_loss", input, target)
    extra = () if weight is None else (weight,)
    return NllLoss.apply(input, target, *extra, reduction=reduction, ignore_index=int(ignore_index),
                         has_weight=weight is not None)


def _pair(name, input, target):  # noqa: A002
    target = _tensor(target, input)
    if target.shape != input.shape:
        raise shape_error(name, input.shape, target.shape, why="input and target must have the same shape")
    return target


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    _check_reduction("mse_loss", reduction)
    return MseLoss.apply(input, _pair("mse_loss", input, target), reduction=reduction)


def l1_loss(input, target, reduction="mean"):  # noqa: A002
    _check_reduction("l1_loss", reduction)
    return L1Loss.apply(input, _pair("l1_loss", input, target), reduction=reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):  # noqa: A002
    _check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return SmoothL1Loss.apply(input, _pair("smooth_l1_loss", input, target), reduction=reduction, beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta): delta times smooth_l1_loss(beta=delta)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return smooth_l1_loss(input, target, reduction, beta=delta) * float(delta)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):  # noqa: A002
    """Binary cross-entropy of probabilities `input` in [0, 1]; `weight` broadcasts to the input."""
    _check_reduction("binary_cross_entropy", reduction)
    target = _pair("binary_cross_entropy", input, target)
    extra = () if weight is None else (_tensor(weight, input),)
    return BinaryCrossEntropy.apply(input, target, *extra, reduction=reduction, has_weight=weight is not None)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):  # noqa: A002
    """Binary cross-entropy of logits (stable for any magnitude); `pos_weight` weighs the positive class."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _pair("binary_cross_entropy_with_logits", input, target)
    extra = tuple(_tensor(v, input) for v in (weight, pos_weight) if v is not None)
    return BinaryCrossEntropyWithLogits.apply(input, target, *extra, reduction=reduction,
                                              has_weight=weight is not None, has_pos_weight=pos_weight is not None)
