"""Typed errors of the ONNX interop layer. All subclass `autocompyute.errors.AutoCompyuteError`."""
from autocompyute.errors import AutoCompyuteError


class InteropError(AutoCompyuteError):
    """Base class of every interop error."""


class OnnxImportError(InteropError, ValueError):
    """An ONNX model that cannot be imported: truncated or corrupt file, malformed graph, bad inputs."""


class UnsafeModelError(OnnxImportError):
    """A model that asks for something we refuse: external data outside its folder, absurd sizes, ..."""


class OnnxRunError(OnnxImportError):
    """A node of an imported model that fails on what it is given (attributes or inputs it cannot handle: an index
    out of range, a zero stride, shapes that do not fit, a missing attribute, ...): names the node, its op type and
    its inputs' shapes; the original error is chained as __cause__."""


class UnsupportedOpError(OnnxImportError):
    """Ops (or attributes) with no import rule. `missing` lists (domain, op_type, opset, node names) for all."""

    def __init__(self, message, missing=()):
        super().__init__(message)
        self.missing = list(missing)


class ExportError(InteropError, ValueError):
    """A model or op that cannot be written as ONNX: an opset outside the supported range, an Op without an
    export rule, a shape that would bake the example's batch size into the graph, ..."""


class ParityError(InteropError, ValueError):
    """check_parity cannot compare: inputs missing or not matching the model, or onnxruntime refusing or failing
    on the model (its own message kept)."""
