"""ONNX rules for autocompyute/ops/dropout.py."""
import numpy as np

from autocompyute import backends
from autocompyute.tensor import Tensor

from ._import_util import const, scalar
from .registry import import_rule

# ---- export ----
from autocompyute.ops import dropout as dropout_ops  # noqa: E402
from .registry import export_rule  # noqa: E402


@export_rule(dropout_ops.Dropout)
def _export_dropout(g, op, inputs):
    # Only traced in training mode (in eval the engine skips the op): a training-mode Dropout node.
    ratio = g.const(np.asarray(op.p, op.inputs[0].dtype))
    return g.add_node("Dropout", [inputs[0], ratio, g.const(np.asarray(True))])



# ---- import ----
def _dropout(x, p, train, n_outputs, seed=None):
    if not train or p == 0:
        y = x
        mask = np.ones(x.shape, bool)
    else:  # the engine's generator, so ac.manual_seed makes it reproducible; a `seed` attribute fixes the mask
        if seed is not None:  # as ONNX's reference draws it: numpy's seeded uniform generator
            keep = x.xp.asarray(np.random.RandomState(int(seed)).uniform(0, 1.0, x.shape) >= p)
        else:
            keep = backends.rng(x.device).random(x.shape, dtype=np.float32) >= p
        scale = 1 / (1 - p) if p < 1 else 0.0
        y = x * const((keep * scale).astype(x.dtype), x)
        mask = keep
    return (y, Tensor(mask)) if n_outputs > 1 else y


@import_rule("Dropout", since=1)
def dropout_1(x, *, ratio=0.5, is_test=0, consumed_inputs=None, ctx):
    return _dropout(x, ratio, ctx.training and not is_test, len(ctx.node.outputs))


@import_rule("Dropout", since=7)
def dropout_7(x, *, ratio=0.5, ctx):
    return _dropout(x, ratio, ctx.training, len(ctx.node.outputs))


@import_rule("Dropout", since=12)
def dropout_12(x, ratio=None, training_mode=None, *, seed=None, ctx):
    """Drops in train(), or always when the node says training_mode=True (as exported in training mode)."""
    train = ctx.training or bool(scalar(training_mode, False))
    return _dropout(x, scalar(ratio, 0.5), train, len(ctx.node.outputs), seed)
