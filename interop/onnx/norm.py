"""ONNX rules for autocompyute/ops/norm.py: batch, layer, group and instance normalisation; on the import side
also RMSNormalization, LpNormalization, MeanVarianceNormalization and LRN."""
import numpy as np

import autocompyute.functional as F
from autocompyute.ops.norm import BatchNorm
from autocompyute.ops.onnx_ops import gather_map
from autocompyute.tensor import Tensor

from ._import_util import axis as wrap_axis, const, flat_positions, rule, scalar_like, sorted_axes, values
from .registry import import_rule

# ---- export ----
from autocompyute.ops import norm as norm_ops  # noqa: E402
from .registry import export_rule  # noqa: E402
from ..errors import ExportError  # noqa: E402


def _channel_vector(g, v, ndim):
    """A per-channel (C,) vector reshaped to (C, 1, ...) so it broadcasts against (N, C, ...)."""
    return g.unsqueeze(v, list(range(1, ndim - 1))) if ndim > 2 else v


def _normalized(g, x, axes, eps, dtype):
    """(x - mean) / sqrt(var + eps) over `axes`, biased variance."""
    centered = g.add_node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.add_node("Mul", [centered, centered]), axes, True)
    std = g.add_node("Sqrt", [g.add_node("Add", [var, g.const(eps, dtype)])])
    return g.add_node("Div", [centered, std])


@export_rule(norm_ops.LayerNorm)
def _export_layer_norm(g, op, inputs):
    x, w, b = inputs
    t = op.inputs[0]
    if g.opset >= 17:
        return g.add_node("LayerNormalization", [x, w, b], axis=-op.n_dims, epsilon=op.eps)
    xhat = _normalized(g, x, list(range(t.ndim - op.n_dims, t.ndim)), op.eps, t.dtype)
    return g.add_node("Add", [g.add_node("Mul", [xhat, w]), b])


@export_rule(norm_ops.BatchNorm)
def _export_batch_norm(g, op, inputs):
    if not op.training:
        x, w, b, mean, var = inputs
        return g.add_node("BatchNormalization", [x, w, b, mean, var], epsilon=op.eps)
    if g.opset < 14:
        raise ExportError("training-mode BatchNormalization needs opset >= 14 (training_mode arrived there)")
    # Training mode: the batch statistics. With momentum 0 ONNX's running-statistics outputs are exactly the
    # batch mean and biased variance, the engine op's 2nd and 3rd outputs; the running inputs are then unused.
    x, w, b = inputs
    c = op.inputs[0].shape[1]
    zeros, ones = g.const(np.zeros(c, op.inputs[0].dtype)), g.const(np.ones(c, op.inputs[0].dtype))
    return g.add_node("BatchNormalization", [x, w, b, zeros, ones], n_outputs=3, epsilon=op.eps, momentum=0.0,
                      training_mode=1)


@export_rule(norm_ops.GroupNorm)
def _export_group_norm(g, op, inputs):
    x, w, b = inputs
    t = op.inputs[0]
    grouped = g.add_node("Reshape", [x, g.ints([0, op.num_groups, -1])])  # (N, G, C/G * spatial)
    xhat = _normalized(g, grouped, [2], op.eps, t.dtype)
    xhat = g.add_node("Reshape", [xhat, g.add_node("Shape", [x])])
    y = g.add_node("Mul", [xhat, _channel_vector(g, w, t.ndim)])
    return g.add_node("Add", [y, _channel_vector(g, b, t.ndim)])



# ---- import ----
@import_rule("BatchNormalization", since=9)
def batch_normalization_9(x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9, ctx):
    """Before opset 14 a node in training mode is one with more than one output (Y, mean, var, saved_mean,
    saved_var)."""
    training_mode = int(len([n for n in ctx.node.outputs if n]) > 1)
    return batch_normalization(x, scale, bias, mean, var, epsilon=epsilon, momentum=momentum,
                               training_mode=training_mode, ctx=ctx)


@import_rule("BatchNormalization", since=6)
@import_rule("BatchNormalization", since=1)
def batch_normalization_legacy(x, scale, bias, mean, var, *, epsilon=1e-5, is_test=0, momentum=0.9, spatial=1,
                               consumed_inputs=None, ctx):
    """Opset 1-8: `is_test` (before 7) says inference; spatial=0 (per-activation statistics) is refused."""
    if not spatial:
        raise ValueError("BatchNormalization: spatial=0 is not supported")
    training = int(not is_test and len([n for n in ctx.node.outputs if n]) > 1)
    return batch_normalization(x, scale, bias, mean, var, epsilon=epsilon, momentum=momentum,
                               training_mode=training, ctx=ctx)


@import_rule("BatchNormalization", since=14)
def batch_normalization(x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9, training_mode=0, ctx):
    """eval(): the running statistics. train() or training_mode=1: the batch statistics, and the running ones
    move as ONNX defines: running = running * momentum + batch * (1 - momentum) (biased batch variance).
    In train() the module's buffers are updated in place."""
    if not (ctx.training or training_mode):
        return F.batch_norm(x, mean, var, scale, bias, training=False, eps=epsilon)
    y, batch_mean, batch_var = BatchNorm.apply(x, scale, bias, training=True, eps=float(epsilon))
    new_mean = (mean.data * momentum + batch_mean.data * (1 - momentum)).astype(mean.dtype)
    new_var = (var.data * momentum + batch_var.data * (1 - momentum)).astype(var.dtype)
    if ctx.training and not mean.requires_grad and not var.requires_grad:
        mean.data, var.data = new_mean, new_var
    return y, Tensor(new_mean), Tensor(new_var), batch_mean, batch_var


@import_rule("LayerNormalization", since=17)
def layer_normalization(x, scale, bias=None, *, axis=-1, epsilon=1e-5, stash_type=1, ctx):
    axis = wrap_axis(axis, x.ndim)
    shape = tuple(x.shape[axis:])
    exact = tuple(scale.shape) == shape and (bias is None or tuple(bias.shape) == shape)
    y = F.layer_norm(x, shape, scale if exact else None, bias if exact else None, eps=epsilon)
    if not exact:  # scale and bias that only broadcast to the normalised shape
        y = y * scale + bias if bias is not None else y * scale
    if len([n for n in ctx.node.outputs if n]) == 1:
        return y
    dims = tuple(range(axis, x.ndim))
    data = x.data.astype(np.float32) if stash_type == 1 and x.dtype != np.float64 else x.data
    mean = data.mean(axis=dims, keepdims=True)
    inv_std = 1 / np.sqrt(data.var(axis=dims, keepdims=True) + epsilon)
    return y, Tensor(mean), Tensor(inv_std)


def _per_group(t, num_groups, channels):
    """Opset 18's per-group scale or bias, repeated for each channel of its group."""
    return F.reshape(F.expand(F.reshape(t, (num_groups, 1)), (num_groups, channels // num_groups)), (channels,))


@import_rule("GroupNormalization", since=18)
def group_normalization_18(x, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    c = x.shape[1]
    if tuple(scale.shape) == (num_groups,) and num_groups != c:
        scale, bias = _per_group(scale, num_groups, c), _per_group(bias, num_groups, c)
    return F.group_norm(x, num_groups, scale, bias, eps=epsilon)


@import_rule("GroupNormalization", since=21)
def group_normalization_21(x, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    return F.group_norm(x, num_groups, scale, bias, eps=epsilon)


@import_rule("InstanceNormalization", since=6)
def instance_normalization(x, scale, bias, *, epsilon=1e-5):
    return F.group_norm(x, x.shape[1], scale, bias, eps=epsilon)


@rule("RMSNormalization", 23)
def rms_normalization(x, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    axes = tuple(range(wrap_axis(axis, x.ndim), x.ndim))
    return x * F.rsqrt(F.mean(x * x, axes, keepdim=True) + epsilon) * scale


@rule("LpNormalization", 1, 22)
def lp_normalization(x, *, axis=-1, p=2):
    ax = wrap_axis(axis, x.ndim)
    norm = F.sum(F.abs(x), ax, keepdim=True) if p == 1 else F.sqrt(F.sum(x * x, ax, keepdim=True))
    zero = const(values(norm) == 0, x)
    return F.where(zero, scalar_like(x, 0), x / F.where(zero, scalar_like(x, 1), norm))


@rule("MeanVarianceNormalization", 9, 13)
def mean_variance_normalization(x, *, axes=(0, 2, 3)):
    axes = sorted_axes(axes, x.ndim)
    centred = x - F.mean(x, axes, keepdim=True)
    return centred / F.sqrt(F.mean(centred * centred, axes, keepdim=True) + 1e-9)


@rule("LRN", 1, 13)
def lrn(x, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    c = x.shape[1]
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    pos = flat_positions(x)
    offsets = np.arange(-lo, hi + 1)
    chan = np.arange(c)[:, None] + offsets[None, :]  # (C, size)
    ok = (chan >= 0) & (chan < c)
    moved = np.moveaxis(pos, 1, -1)  # (N, *d, C)
    win = np.where(ok, np.take(moved, np.clip(chan, 0, c - 1), axis=-1), x.numel())  # (N, *d, C, size)
    win = np.moveaxis(win, -2, 1)  # (N, C, *d, size)
    sq = F.sum(gather_map([x, scalar_like(x, 0)], win) ** 2.0, -1)
    return x / (sq * (alpha / size) + bias) ** beta
