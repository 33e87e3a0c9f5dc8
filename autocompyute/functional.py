"""Every user-facing function of the engine in one namespace (`import autocompyute.functional as F`).

Each family module in `ops/` defines its Op classes and the functions over them; this file only gathers them.
"""
from .ops.unary import (  # noqa: F401
    abs, cast, clamp, cos, erf, exp, gelu, leaky_relu, log, neg, relu, relu6, rsqrt, sigmoid, silu, sin, softplus,
    sqrt, tanh, to_device,
)
from .ops.binary import (  # noqa: F401
    add, div, eq, ge, gt, le, logical_and, logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne, pow,
    sub, where,
)
from .ops.reduce import (  # noqa: F401
    argmax, argmin, cumsum, log_softmax, logsumexp, max, mean, min, prod, softmax, std, sum, var,
)
from .ops.linalg import matmul  # noqa: F401
from .ops.movement import (  # noqa: F401
    cat, chunk, concat, concatenate, expand, flatten, flip, pad, permute, repeat, reshape, split, squeeze, stack, tile,
    transpose, tril, triu, unsqueeze, view,
)
from .ops.index import gather, getitem, masked_fill, scatter_add  # noqa: F401
from .ops.conv import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv3d, conv_transpose1d,
    conv_transpose2d, max_pool1d, max_pool2d,
)

from .ops.linear import embedding, linear  # noqa: F401,E402
from .ops.norm import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401,E402
from .ops.dropout import dropout  # noqa: F401,E402
from .ops.activation import elu, hardsigmoid, hardswish, hardtanh  # noqa: F401,E402
from .ops.loss import (  # noqa: F401,E402
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss, nll_loss,
    smooth_l1_loss,
)
from .ops.attention import scaled_dot_product_attention  # noqa: F401,E402

clip = clamp
