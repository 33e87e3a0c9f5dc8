"""Layers with PyTorch's names, parameter names, shapes and default initialisation (so state dicts carry over):
linear and embedding, normalisation, dropout, activations, losses, and Flatten/Identity."""

import numpy as np

from .. import backends
from .. import functional as core
from ..dtypes import as_dtype, default_float
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter, empty_parameter


# ---- linear and embedding ----
class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), both initialised U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_parameter((out_features, in_features), device, dtype)
        self.bias = empty_parameter((out_features,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table (num_embeddings, embedding_dim) initialised N(0, 1); the padding_idx row starts at zero
    and gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None, _weight=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} rows")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is not None:
            self.weight = Parameter(backends.to_device(_weight, device or "cpu"))
        else:
            self.weight = empty_parameter((num_embeddings, embedding_dim), device, dtype)
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        data = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        m = cls(data.shape[0], data.shape[1], padding_idx=padding_idx, _weight=data.copy())
        m.weight.requires_grad_(not freeze)
        return m

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


# ---- normalisation ----
class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = empty_parameter(shape, device, dtype, fill=1.0) if elementwise_affine else None
        self.bias = empty_parameter(shape, device, dtype) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _BatchNorm(Module):
    """Running statistics are buffers (running_mean, running_var, num_batches_tracked). In training mode the
    batch statistics normalise and update the running ones: running = (1 - momentum) * running + momentum *
    batch, with the unbiased batch variance; momentum=None gives the cumulative average."""
    _expected_ndim = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = empty_parameter((num_features,), device, dtype, fill=1.0) if affine else None
        self.bias = empty_parameter((num_features,), device, dtype) if affine else None
        if track_running_stats:
            dtype = as_dtype(dtype) or default_float
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype), device=device))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype), device=device))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64), device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data = self.running_mean.xp.zeros_like(self.running_mean.data)
            self.running_var.data = self.running_var.xp.ones_like(self.running_var.data)
            self.num_batches_tracked.data = self.num_batches_tracked.xp.zeros_like(self.num_batches_tracked.data)

    def _check_input(self, x):
        if x.ndim not in self._expected_ndim:
            from ..errors import shape_error
            dims = " or ".join(f"{n}-D" for n in self._expected_ndim)
            raise shape_error(type(self).__name__, x.shape, why=f"expected {dims} input")

    def forward(self, x):
        self._check_input(x)
        factor = 0.0
        if self.training and self.track_running_stats:
            count = self.num_batches_tracked
            count.data = count.xp.asarray(count.data + 1)
            factor = 1.0 / int(count.data) if self.momentum is None else self.momentum
        return F.batch_norm(x, *self._tracked_stats(), self.weight, self.bias,
                            training=self.training or not self.track_running_stats, momentum=factor, eps=self.eps)

    def _tracked_stats(self):
        """(running_mean, running_var), or (None, None) when statistics are not tracked (even if the buffers are
        there because track_running_stats was switched off after construction)."""
        return (self.running_mean, self.running_var) if self.track_running_stats else (None, None)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L)."""
    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W)."""
    _expected_ndim = (4,)


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = empty_parameter((num_channels,), device, dtype, fill=1.0) if affine else None
        self.bias = empty_parameter((num_channels,), device, dtype) if affine else None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class InstanceNorm2d(_BatchNorm):
    """Normalise each (sample, channel) plane of x (N, C, H, W) over H and W. Defaults as PyTorch's: no
    affine parameters and no running statistics."""
    _expected_ndim = (4,)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, x):
        self._check_input(x)
        momentum = 0.0 if self.momentum is None else self.momentum  # as PyTorch: None leaves the statistics
        return F.instance_norm(x, *self._tracked_stats(), self.weight, self.bias,
                               self.training or not self.track_running_stats, momentum, self.eps)


# ---- dropout, reshaping, identity ----
class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


# ---- activations ----
class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return core.relu(x)


class ReLU6(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return core.relu6(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return core.leaky_relu(x, self.negative_slope)


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return core.gelu(x, self.approximate)


class SiLU(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return core.silu(x)


class Sigmoid(Module):
    def forward(self, x):
        return core.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return core.tanh(x)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return core.softplus(x, self.beta, self.threshold)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)


class Hardsigmoid(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.hardswish(x)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim)


# ---- losses ----
class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """The class weight is a buffer (not trainable), as in PyTorch."""
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        w = None if weight is None else (weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight)))
        self.register_buffer("weight", w)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        pw = None if pos_weight is None else (
            pos_weight if isinstance(pos_weight, Tensor) else Tensor(np.asarray(pos_weight)))
        self.register_buffer("pos_weight", pw)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
