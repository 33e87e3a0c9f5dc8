"""`autocompyute.nn.functional` (usually `import autocompyute.nn.functional as F`): the stateless layer functions,
activations and losses, with PyTorch's names and arguments. A flat list of functions; each family's Ops live in
autocompyute/ops/."""
from .. import functional as _core
from ..ops.activation import elu, hardsigmoid, hardswish, hardtanh  # noqa: F401
from ..ops.dropout import dropout  # noqa: F401
from ..ops.linear import embedding, linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss,
    smooth_l1_loss,
)
from ..ops.norm import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401
from ..ops.unary import gelu, leaky_relu, relu, relu6, sigmoid, silu, softplus, tanh  # noqa: F401


def _softmax_dim(ndim):
    """PyTorch's implicit softmax dim (dim=None): 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x, dim=None):
    return _core.softmax(x, _softmax_dim(x.ndim) if dim is None else dim)


def log_softmax(x, dim=None):
    return _core.log_softmax(x, _softmax_dim(x.ndim) if dim is None else dim)


def flatten(x, start_dim=1, end_dim=-1):
    return x.flatten(start_dim, end_dim)


def identity(x):
    return x


from ..ops.conv import (  # noqa: F401,E402
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv3d, conv_transpose1d,
    conv_transpose2d, max_pool1d, max_pool2d,
)
from ..ops.attention import scaled_dot_product_attention  # noqa: F401,E402
