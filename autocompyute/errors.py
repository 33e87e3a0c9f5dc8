"""The typed errors the engine raises. Catch `AutoCompyuteError` to catch them all."""


class AutoCompyuteError(Exception):
    """Base class of every error this project raises on purpose."""


class ShapeError(AutoCompyuteError, ValueError):
    """Shapes that an op cannot combine. The message names the op and the shapes."""


class DTypeError(AutoCompyuteError, TypeError):
    """A dtype an op does not accept (for example a gradient for an integer tensor)."""


class DeviceError(AutoCompyuteError, RuntimeError):
    """A device that is unknown or unavailable, or tensors on different devices."""


class GraphError(AutoCompyuteError, RuntimeError):
    """Misuse of the autograd graph: backward through a freed graph, or from a non-scalar without a gradient."""


def shape_error(op, *shapes, why="incompatible shapes"):
    shown = " and ".join(str(tuple(s)) for s in shapes)
    return ShapeError(f"{op}: {why}: {shown}")


class StateDictError(AutoCompyuteError, KeyError):
    """A state dict that does not fit a module: missing or extra keys, wrong shapes or dtypes (all named)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class CheckpointError(AutoCompyuteError, OSError):
    """A checkpoint file that is missing, unreadable or not a valid safetensors file (the message names it)."""
