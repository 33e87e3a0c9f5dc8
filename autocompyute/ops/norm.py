"""Fused normalisations: LayerNorm, BatchNorm (training and eval), GroupNorm. Each takes its affine weight and
bias as inputs (ones and zeros when the layer has none), so one Op covers every variant."""
import math

from .. import backends
from ..autograd import no_grad
from ..errors import shape_error
from .base import Op


def _mean(xp, x, axes):
    """The mean over `axes`, kept as size-1 dims. Over the trailing dims of a float array (LayerNorm's) it is
    backends.last_axis_sum of the flattened rows (a matrix-vector product, several times faster than numpy's mean
    along a short last axis) over n."""
    lead = x.ndim - len(axes)
    n = math.prod(x.shape[lead:])
    if axes != tuple(range(lead, x.ndim)) or x.dtype.char not in "fd" or n == 0:  # (float16: numpy's mean)
        return x.mean(axis=axes, keepdims=True)
    total = backends.last_axis_sum(xp, x.reshape(x.shape[:lead] + (n,)))
    return (total / n).reshape(x.shape[:lead] + (1,) * len(axes))


def _normalize(xp, x, axes, eps):
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance. Returns xhat, rstd, mean, var."""
    mean = _mean(xp, x, axes)
    centered = x - mean
    var = _mean(xp, centered * centered, axes)
    rstd = 1 / xp.sqrt(var + eps)
    return centered * rstd, rstd, mean, var


def _normalize_backward(xp, dxhat, xhat, rstd, axes):
    """Gradient of xhat = (x - mean) * rstd with respect to x, given the gradient dxhat."""
    mean_dxhat = _mean(xp, dxhat, axes)
    mean_dxhat_xhat = _mean(xp, dxhat * xhat, axes)
    return rstd * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


class LayerNorm(Op):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last `n_dims` dimensions; weight and bias
    have the shape of those dimensions."""
    def forward(self, x, weight, bias):
        axes = tuple(range(x.ndim - self.n_dims, x.ndim))
        xhat, rstd, _, _ = _normalize(self.xp, x, axes, self.eps)
        self.save(xhat=xhat, rstd=rstd, weight=weight)
        return (xhat * weight + bias).astype(x.dtype, copy=False)

    def backward(self, dy):
        s = self.saved
        axes = tuple(range(dy.ndim - self.n_dims, dy.ndim))
        lead = tuple(range(dy.ndim - self.n_dims))
        dx = _normalize_backward(self.xp, dy * s.weight, s.xhat, s.rstd, axes)
        dw = (dy * s.xhat).sum(axis=lead) if self.input_needs_grad(1) else None
        db = dy.sum(axis=lead) if self.input_needs_grad(2) else None
        return dx, dw, db


def _channel_shape(x):
    """(1, C, 1, ...) to broadcast a per-channel vector against x of shape (N, C, ...)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


class BatchNorm(Op):
    """Per-channel normalisation of x (N, C, ...) followed by weight * xhat + bias.

    training=True: inputs (x, weight, bias); statistics over every dimension but 1; outputs y, the batch mean
    and the biased batch variance (C,) (the module updates its running statistics from them).
    training=False: inputs (x, weight, bias, running_mean, running_var); output y.
    """
    def forward(self, x, weight, bias, running_mean=None, running_var=None):
        xp = self.xp
        cshape = _channel_shape(x)
        axes = (0,) + tuple(range(2, x.ndim))
        if self.training:
            xhat, rstd, mean, var = _normalize(xp, x, axes, self.eps)
        else:
            mean, var = running_mean.reshape(cshape), running_var.reshape(cshape)
            rstd = 1 / xp.sqrt(var + self.eps)
            xhat = (x - mean) * rstd
        w = weight.reshape(cshape)
        self.save(xhat=xhat, rstd=rstd, w=w, axes=axes)
        y = (xhat * w + bias.reshape(cshape)).astype(x.dtype, copy=False)
        if self.training:
            return y, mean.reshape(-1), var.reshape(-1)
        return y

    def backward(self, dy, *stat_grads):
        s = self.saved
        if self.training:
            dx = _normalize_backward(self.xp, dy * s.w, s.xhat, s.rstd, s.axes)
        else:
            dx = dy * (s.w * s.rstd)
        dw = (dy * s.xhat).sum(axis=s.axes) if self.input_needs_grad(1) else None
        db = dy.sum(axis=s.axes) if self.input_needs_grad(2) else None
        return (dx, dw, db) if self.training else (dx, dw, db, None, None)


class GroupNorm(Op):
    """Normalise x (N, C, ...) over groups of C // num_groups channels (and all positions), then apply a
    per-channel weight and bias (C,)."""
    def forward(self, x, weight, bias):
        n, c = x.shape[:2]
        g = x.reshape(n, self.num_groups, math.prod(x.shape[1:]) // self.num_groups)  # (N, G, C/G * spatial)
        xhat, rstd, _, _ = _normalize(self.xp, g, (2,), self.eps)
        xhat = xhat.reshape(x.shape)
        cshape = _channel_shape(x)
        w = weight.reshape(cshape)
        self.save(xhat=xhat, rstd=rstd, w=w, grouped=g.shape)
        return (xhat * w + bias.reshape(cshape)).astype(x.dtype, copy=False)

    def backward(self, dy):
        s = self.saved
        axes = (0,) + tuple(range(2, dy.ndim))
        dxhat = (dy * s.w).reshape(s.grouped)                                      # (N, G, C/G * spatial)
        dx = _normalize_backward(self.xp, dxhat, s.xhat.reshape(dxhat.shape), s.rstd, (2,)).reshape(dy.shape)
        dw = (dy * s.xhat).sum(axis=axes) if self.input_needs_grad(1) else None
        db = dy.sum(axis=axes) if self.input_needs_grad(2) else None
        return dx, dw, db


# ---- user-facing functions ----
def _affine(x, weight, bias, shape):
    """The given weight and bias, or ones and zeros of `shape` (an Op always gets both)."""
    from ..tensor import Tensor

    xp = x.xp
    if weight is None:
        weight = Tensor(xp.ones(shape, dtype=x.dtype))
    if bias is None:
        bias = Tensor(xp.zeros(shape, dtype=x.dtype))
    return weight, bias


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dimensions `normalized_shape` (an int or a tuple)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or len(shape) > x.ndim:
        raise shape_error("layer_norm", x.shape, shape, why="the trailing dimensions must be normalized_shape")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise shape_error("layer_norm", t.shape, shape, why=f"{name} must have shape normalized_shape")
    weight, bias = _affine(x, weight, bias, shape)
    return LayerNorm.apply(x, weight, bias, n_dims=len(shape), eps=float(eps))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over dimension 1 of x (N, C, ...), with PyTorch's semantics.

    training=True normalises with the batch statistics and, when running_mean/running_var Tensors are given,
    updates them in place: running = (1 - momentum) * running + momentum * batch, with the unbiased batch
    variance. (A cumulative average, PyTorch's momentum=None, is the module's business: it passes
    momentum = 1 / num_batches_tracked.)
    training=False normalises with the running statistics.
    """
    if x.ndim < 2:
        raise shape_error("batch_norm", x.shape, why="input must be (N, C, ...)")
    c = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise shape_error("batch_norm", x.shape, t.shape, why=f"{name} must have one value per channel")
    weight, bias = _affine(x, weight, bias, (c,))
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode needs running_mean and running_var")
        return BatchNorm.apply(x, weight, bias, running_mean, running_var, training=False, eps=float(eps))
    count = x.numel() // c
    if count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
    y, mean, var = BatchNorm.apply(x, weight, bias, training=True, eps=float(eps))
    if running_mean is not None and running_var is not None:
        batch_stats_update(running_mean, running_var, mean.data, var.data, count, momentum)
    return y


def batch_stats_update(running_mean, running_var, mean, var, count, factor):
    """running <- (1 - factor) * running + factor * batch (unbiased variance): the update BatchNorm modules do."""
    unbiased = var * (count / max(count - 1, 1))
    running_mean.data = ((1 - factor) * running_mean.data + factor * mean).astype(running_mean.dtype)
    running_var.data = ((1 - factor) * running_var.data + factor * unbiased).astype(running_var.dtype)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise x (N, C, ...) over num_groups groups of channels; weight and bias are per channel (C,)."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise shape_error("group_norm", x.shape, why=f"channels must be divisible by num_groups={num_groups}")
    weight, bias = _affine(x, weight, bias, (x.shape[1],))
    return GroupNorm.apply(x, weight, bias, num_groups=int(num_groups), eps=float(eps))


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its positions (GroupNorm with one channel per group).
    With use_input_stats=False the running statistics are used instead (BatchNorm in eval mode)."""
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    if running_mean is not None and running_var is not None:
        with no_grad():
            n, c = x.shape[:2]
            flat = x.data.reshape(n, c, -1)
            count = flat.shape[2]
            batch_stats_update(running_mean, running_var, flat.mean(axis=2).mean(axis=0),
                               flat.var(axis=2).mean(axis=0), count, momentum)
    return group_norm(x, x.shape[1], weight, bias, eps)
