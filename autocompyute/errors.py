"""The typed errors the engine raises. Catch `AutoCompyuteError` to catch them all."""


class AutoCompyuteError(Exception):
    """Base class of every error this project raises on purpose."""


class ShapeError(AutoCompyuteError, ValueError):
    """Shapes that an op cannot combine. The message names the op and the shapes."""


class IndexOutOfRangeError(AutoCompyuteError, IndexError):
    """An index or class label outside the dimension it indexes. The message names the op and the bound."""


class DTypeError(AutoCompyuteError, TypeError):
    """A dtype an op does not accept (for example a gradient for an integer tensor)."""


class DeviceError(AutoCompyuteError, RuntimeError):
    """A device that is unknown or unavailable, or tensors on different devices."""


class GraphError(AutoCompyuteError, RuntimeError):
    """Misuse of the autograd graph: backward through a freed graph, or from a non-scalar without a gradient."""


def check_dim(d, ndim, op):
    """One dimension index, negatives allowed, checked against `ndim` (a ShapeError naming `op` if out of range)."""
    if not -ndim <= d < ndim:
        raise ShapeError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return d % ndim


def check_indices(op, indices, size, what="index", allow=None):
    """Raise IndexOutOfRangeError unless every entry of the integer array `indices` is in [0, size); entries equal
    to `allow` (an ignore_index) are skipped."""
    if indices.size == 0:
        return
    bad = (indices < 0) | (indices >= size)
    if allow is not None:
        bad &= indices != allow
    if bool(bad.any()):
        first = indices[bad].reshape(-1)[0].item()
        raise IndexOutOfRangeError(f"{op}: {what} {first} is out of range for size {size}")


def shape_error(op, *shapes, why="incompatible shapes"):
    shown = " and ".join(str(tuple(s)) for s in shapes)
    return ShapeError(f"{op}: {why}: {shown}")


class StateDictError(AutoCompyuteError, KeyError):
    """A state dict that does not fit a module: missing or extra keys, wrong shapes or dtypes (all named)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class CheckpointError(AutoCompyuteError, OSError):
    """A checkpoint file that is missing, unreadable or not a valid safetensors file (the message names it)."""
