"""A small ONNX graph builder over `onnx.helper`: nodes with fresh unique names, initializers, deduplicated
constants, graph inputs and outputs with their value_info, and the opset-dependent forms of a few ops
(reductions, Squeeze/Unsqueeze, Split) so export rules stay one line each."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The newest opset onnxruntime 1.32.0 runs (it refuses 29: "ValidateOpsetForDomain"); tests/test_export.py
# checks both facts against the installed onnxruntime.
MAX_OPSET = 28
MIN_OPSET = 13

INT64_MAX = np.iinfo(np.int64).max


def onnx_dtype(dtype):
    """The TensorProto element type of a numpy dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class BatchDim:
    """A dimension that depends on the batch size N at run time: size = a * N + b (a != 0)."""

    __slots__ = ("a", "b")

    def __init__(self, a, b=0):
        self.a, self.b = int(a), int(b)

    def __eq__(self, other):
        return isinstance(other, BatchDim) and (self.a, self.b) == (other.a, other.b)

    def __hash__(self):
        return hash((self.a, self.b))

    def __repr__(self):
        text = "N" if self.a == 1 else f"{self.a}*N"
        return text + (f"{self.b:+d}" if self.b else "")

    def param(self):
        """A dim_param name for value_info: "batch" for N itself, None (unnamed) otherwise."""
        return "batch" if (self.a, self.b) == (1, 0) else None


def is_static(dims):
    return all(isinstance(d, int) for d in dims)


class GraphBuilder:
    """Collects nodes, initializers and graph inputs/outputs; `make_model()` assembles the ModelProto."""

    def __init__(self, opset=MAX_OPSET, name="autocompyute"):
        self.opset = opset
        self.name = name
        self.nodes, self.initializers, self.inputs, self.outputs, self.value_info = [], [], [], [], []
        self._used = set()
        self._consts = {}

    # ---- names ----
    def fresh(self, hint="v"):
        """A name not used yet in this graph, derived from `hint`."""
        hint = hint or "v"
        name, i = hint, 0
        while name in self._used:
            i += 1
            name = f"{hint}_{i}"
        self._used.add(name)
        return name

    def reserve(self, name):
        """Claim an exact name (a parameter's or an input's); fails if it is taken."""
        if name in self._used:
            raise ValueError(f"the name {name!r} is used twice in the graph")
        self._used.add(name)
        return name

    # ---- nodes and values ----
    def add_node(self, op_type, inputs, n_outputs=1, *, outputs=None, name=None, domain="", **attrs):
        """Append a node; returns its output name (one output) or the list of names. Inputs may be "" for an
        optional input left out; attributes that are None are left out."""
        if outputs is None:
            outputs = [self.fresh(op_type.lower()) for _ in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = helper.make_node(op_type, list(inputs), list(outputs), name=name or self.fresh(f"{op_type}_node"),
                                domain=domain or None, **attrs)
        self.nodes.append(node)
        return outputs[0] if len(outputs) == 1 and n_outputs == 1 else list(outputs)

    def add_initializer(self, array, name=None):
        array = np.asarray(array)
        name = self.reserve(name) if name is not None else self.fresh("const")
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C", copy=True) if not array.flags.c_contiguous else array, name))
        return name

    def const(self, value, dtype=None):
        """A constant initializer; small ones are shared (the same value is stored once)."""
        array = np.asarray(value, dtype=dtype)
        if array.size > 64:
            return self.add_initializer(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:
            self._consts[key] = self.add_initializer(array)
        return self._consts[key]

    def ints(self, values):
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def add_input(self, name, dtype, shape):
        self.inputs.append(helper.make_tensor_value_info(name, onnx_dtype(dtype), _shape_spec(shape)))
        return name

    def add_output(self, name, dtype, shape):
        self.outputs.append(helper.make_tensor_value_info(name, onnx_dtype(dtype), _shape_spec(shape)))
        return name

    # ---- opset-dependent forms ----
    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* over `axes` (None: all): axes are an input for ReduceSum from 13 and the others from 18."""
        keep = int(bool(keepdims))
        as_input = op_type == "ReduceSum" or self.opset >= 18
        if axes is None:
            return self.add_node(op_type, [x], keepdims=keep)
        if as_input:
            return self.add_node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.add_node(op_type, [x], keepdims=keep, axes=list(axes))

    def squeeze(self, x, axes):
        return self.add_node("Squeeze", [x, self.ints(axes)])

    def unsqueeze(self, x, axes):
        return self.add_node("Unsqueeze", [x, self.ints(axes)])

    def split(self, x, sizes, axis):
        """Split into pieces of the given sizes (an input from opset 13)."""
        return self.add_node("Split", [x, self.ints(sizes)], n_outputs=len(sizes), axis=axis)

    def cast(self, x, dtype):
        return self.add_node("Cast", [x], to=onnx_dtype(dtype))

    # ---- the model ----
    def make_model(self, doc="", producer="autocompyute", metadata=None):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers,
                                  value_info=self.value_info, doc_string=doc or None)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name=producer,
                                  ir_version=helper.find_min_ir_version_for(opsets))
        from autocompyute import __version__
        model.producer_version = __version__
        for k, v in (metadata or {}).items():
            model.metadata_props.add(key=k, value=str(v))
        return model


def _shape_spec(shape):
    if shape is None:
        return None
    return [d if isinstance(d, int) else d.param() if isinstance(d, BatchDim) else d for d in shape]


__all__ = ["GraphBuilder", "BatchDim", "MAX_OPSET", "MIN_OPSET", "INT64_MAX", "onnx_dtype", "is_static",
           "TensorProto", "onnx"]
