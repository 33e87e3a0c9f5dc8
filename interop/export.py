"""`export_onnx`: trace a model on example inputs and write the Tensor graph it built as ONNX.

How it works:
1. The model runs once under `record_graph()` (every op links its output to its inputs, grad or not).
2. With a symbolic batch (the default) it runs a second time with one more example along the batch axis; the
   two graphs have the same ops in the same order, so comparing their shapes says which dims follow the batch
   size N (each such dim is `a * N + b`: a `BatchDim`). Rules that write shapes (Reshape, Expand, ...) ask the
   graph for these dims and build the batch-dependent parts from `Shape(input)` at run time.
3. The graph is walked without recursion, inputs before outputs; leaves become graph inputs, named
   initializers (parameters and buffers, by their `named_parameters()`/`named_buffers()` names) or constants,
   and each Op is written by its export rule (`interop/onnx/<family>.py`).
"""
import os

import numpy as np
import onnx

from autocompyute import autograd
from autocompyute.nn.module import Module
from autocompyute.tensor import Tensor

from .errors import ExportError
from .onnx.builder import MAX_OPSET, MIN_OPSET, BatchDim, GraphBuilder, is_static, onnx_dtype
from .onnx.registry import EXPORT_RULES, load_rules

TWO_GB = 2 ** 31


def export_onnx(model, args, f=None, *, opset=None, dynamic_batch=True, input_names=None, output_names=None,
                training=False, external_data=None):
    """Export `model` (an nn.Module or any callable over Tensors), traced on `args` (a Tensor or array, or a
    tuple of them), as an ONNX ModelProto; also written to `f` (a path) when given.

    - `opset`: MIN_OPSET (13) .. MAX_OPSET (28, the newest onnxruntime 1.32 runs; the default).
    - `dynamic_batch`: True makes dim 0 of every input (of rank >= 1) the symbolic "batch" dim; a sequence
      gives each input's batch axis (None for none); False keeps the example's shapes.
    - `training`: False exports eval mode (BatchNorm running statistics, no Dropout); True keeps training-mode
      BatchNormalization and Dropout nodes. The module's mode is restored afterwards. (onnxruntime 1.32's
      graph optimizations fuse Conv + BatchNormalization as in inference even with training_mode=1: run such
      a model with graph_optimization_level=ORT_DISABLE_ALL.)
    - `external_data`: True stores the weights in `<f>.data` beside the file; None does so when the model is
      over 2 GB.
    """
    if hasattr(model, "to_onnx") and not isinstance(model, type):
        # An imported OnnxModule writes its own graph back (same nodes, names and opset; current weights).
        return model.to_onnx(f) if f is not None else model.to_onnx()
    proto, _ = trace_export(model, args, opset=opset, dynamic_batch=dynamic_batch, input_names=input_names,
                            output_names=output_names, training=training, keep_values=False)
    if f is not None:
        save(proto, f, external_data=external_data)
    return proto


def save(proto, f, external_data=None):
    """Write `proto` to `f`; weights go to `<name>.data` beside it when asked or when over 2 GB."""
    size = sum(len(t.raw_data) for t in proto.graph.initializer)
    if external_data is None:
        external_data = size >= TWO_GB
    if hasattr(f, "write"):
        if external_data:
            raise ExportError("external data needs a file path, not a file object")
        f.write(proto.SerializeToString())
        return
    path = os.fspath(f)
    if not external_data:
        onnx.save_model(proto, path)
        return
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)  # save_model moves the weights out of the proto it is given
    onnx.save_model(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(path) + ".data", size_threshold=0)


class ExportInfo:
    """What a trace export knows besides the proto: our value of every exported tensor (for parity)."""

    def __init__(self, keep_values=True):
        self.keep_values = keep_values  # False: values and value_op stay empty
        self.values = {}       # ONNX value name -> numpy array from our forward, in graph order
        self.value_op = {}     # ONNX value name -> engine Op class name that produced it
        self.inputs = {}       # graph input name -> example array
        self.outputs = []      # graph output names


def trace_export(model, args, *, opset=None, dynamic_batch=True, input_names=None, output_names=None,
                 training=False, keep_values=True):
    """Like export_onnx, and also returns an ExportInfo (our intermediate values by ONNX name, unless
    keep_values is False: export alone needs none, and on a GPU each would be a copy to the host)."""
    opset = MAX_OPSET if opset is None else int(opset)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset {opset} is not supported: export writes opsets {MIN_OPSET} to {MAX_OPSET} "
                          f"({MAX_OPSET} is the newest onnxruntime 1.32 runs)")
    load_rules()
    arrays = [_as_array(a) for a in (args if isinstance(args, (tuple, list)) else (args,))]
    axes = _batch_axes(arrays, dynamic_batch)
    with _export_mode(model, training):
        inputs1, outs1 = _trace(model, arrays)
        twin = None
        if any(a is not None for a in axes):
            bigger = [a if ax is None else np.concatenate([a, a.take([0], axis=ax)], axis=ax)
                      for a, ax in zip(arrays, axes)]
            try:
                inputs2, outs2 = _trace(model, bigger)
            except Exception as e:
                raise ExportError(f"the model does not run with a batch of a different size ({e}); "
                                  "export with dynamic_batch=False") from e
            twin = (inputs2, outs2)
    g = ExportGraph(opset, training)
    info = ExportInfo(keep_values)
    g.write(model, arrays, axes, inputs1, outs1, twin, input_names, output_names, info)
    return g.make_model(doc=f"exported from {_describe(model)}"), info


class ExportGraph(GraphBuilder):
    """The builder export rules receive: GraphBuilder plus what the trace knows (shapes with symbolic batch
    dims, the twin trace) and `training`."""

    def __init__(self, opset, training=False):
        super().__init__(opset, name="autocompyute_graph")
        self.training = training
        self._dims = {}       # value key -> tuple of int | BatchDim
        self._twins = {}      # id(op) -> the same op in the second trace
        self._batch = None    # (graph input name, axis) that N is read from
        self._shape_cache = {}
        self._state = {}      # id(tensor) -> name of the model's parameters and buffers
        self._inputs = ()     # the traced graph inputs

    # ---- what rules ask ----
    def dims(self, t):
        """The shape of traced Tensor `t`, with BatchDim for dims that follow the batch size."""
        return self._dims[_key(t)]

    def out_dims(self, op, i=0):
        return self._dims[(id(op), i)]

    def twin(self, op):
        """The same Op in the second trace (batch N+1), or None without a symbolic batch."""
        return self._twins.get(id(op))

    def batch_size(self):
        """A 1-D int64 tensor [N]: the batch size read from the first batched graph input."""
        if "N" not in self._shape_cache:
            name, axis = self._batch
            if self.opset >= 15:
                n = self.add_node("Shape", [name], start=axis, end=axis + 1)
            else:
                n = self.add_node("Gather", [self.add_node("Shape", [name]), self.ints([axis])], axis=0)
            self._shape_cache["N"] = n
        return self._shape_cache["N"]

    def dim_value(self, d):
        """A 1-D int64 tensor [d] for an int or a BatchDim."""
        if isinstance(d, int):
            return self.ints([d])
        key = (d.a, d.b)
        if key not in self._shape_cache:
            v = self.batch_size()
            if d.a != 1:
                v = self.add_node("Mul", [v, self.ints([d.a])])
            if d.b:
                v = self.add_node("Add", [v, self.ints([d.b])])
            self._shape_cache[key] = v
        return self._shape_cache[key]

    def shape_value(self, dims):
        """A 1-D int64 shape tensor for `dims`: a constant when static, else built from N at run time."""
        dims = list(dims)
        if is_static(dims):
            return self.ints(dims)
        pieces, run = [], []
        for d in dims:
            if isinstance(d, int):
                run.append(d)
                continue
            if run:
                pieces.append(self.ints(run))
                run = []
            pieces.append(self.dim_value(d))
        if run:
            pieces.append(self.ints(run))
        return pieces[0] if len(pieces) == 1 else self.add_node("Concat", pieces, axis=0)

    def reshape_target(self, in_dims, out_dims):
        """The Reshape `shape` input for in_dims -> out_dims that bakes no batch size in: static dims as they
        are, 0 to copy an unchanged batch dim, -1 for one remaining batch dim, else built at run time."""
        target, open_ = [], []
        for j, d in enumerate(out_dims):
            if isinstance(d, int):
                target.append(d)
            elif j < len(in_dims) and in_dims[j] == d:
                target.append(0)
            else:
                target.append(-1)
                open_.append(j)
        if 0 in [d for d in out_dims if isinstance(d, int)]:
            return self.shape_value(out_dims) if not is_static(out_dims) else self.ints(out_dims)
        if len(open_) <= 1:
            return self.ints(target)
        return self.shape_value(out_dims)

    def expand_target(self, in_dims, out_dims):
        """The Expand `shape` input: a batch dim already in the input (same place from the right) becomes 1."""
        target = list(out_dims)
        offset = len(out_dims) - len(in_dims)
        for j, d in enumerate(out_dims):
            if isinstance(d, BatchDim) and j >= offset and in_dims[j - offset] == d:
                target[j] = 1
        return self.shape_value(target)

    def inputs_as(self, op, inputs, dtype=None):
        """`inputs` cast to `dtype` (default: the op's first output dtype) where the engine's numpy promotion
        made them differ (ONNX ops want one type: int + float, int / int -> float, ...)."""
        dtype = np.dtype(dtype or op.out_meta[0][1])
        return [x if t.dtype == dtype else self.cast(x, dtype) for t, x in zip(op.inputs, inputs)]

    # ---- the walk ----
    def write(self, model, arrays, axes, inputs1, outs1, twin, input_names, output_names, info):
        ops1, leaves1 = _linearize(outs1)
        self._inputs = inputs1
        for op in ops1:
            for i, (shape, _) in enumerate(op.out_meta):
                self._dims[(id(op), i)] = tuple(shape)
        for t in leaves1:
            self._dims[id(t)] = tuple(t.shape)
        leaf_values2 = {}
        if twin is not None:
            inputs2, outs2 = twin
            ops2, leaves2 = _linearize(outs2)
            self._pair(ops1, ops2, leaves1, leaves2, inputs1, inputs2, outs1, outs2, leaf_values2)

        names = {}  # value key -> ONNX name
        input_names = list(input_names or [])
        for i, (t, a, ax) in enumerate(zip(inputs1, arrays, axes)):
            name = input_names[i] if i < len(input_names) else ("input" if len(arrays) == 1 else f"input_{i}")
            self.reserve(name)
            dims = list(a.shape)
            if ax is not None:
                dims[ax] = BatchDim(1, 0)
                self._batch = self._batch or (name, ax)
            self._dims[id(t)] = tuple(dims)
            self.add_input(name, a.dtype, dims)
            names[id(t)] = name
            info.inputs[name] = a

        state = self._state = _state_names(model)
        for op in ops1:
            for t in op.inputs:
                k = _key(t)
                if k not in names:
                    names[k] = self._leaf(t, state, leaf_values2.get(id(t)))
            rule = EXPORT_RULES.get(type(op))
            if rule is None:
                raise ExportError(f"no ONNX export rule for the op {type(op).__name__} "
                                  f"(module {type(op).__module__}); add one in interop/onnx/")
            twin_op = self.twin(op)
            if twin_op is not None and not getattr(rule, "batch_aware", False):
                changed = [k for k in op.attrs if not _same(op.attrs[k], twin_op.attrs.get(k))]
                if changed:
                    raise ExportError(f"{type(op).__name__}: attribute(s) {changed} depend on the batch size and "
                                      "its export rule cannot express that; export with dynamic_batch=False")
            outs = rule(self, op, [names[_key(t)] for t in op.inputs])
            outs = [outs] if isinstance(outs, str) else list(outs)
            if len(outs) != op.n_outputs:
                raise ExportError(f"the export rule of {type(op).__name__} gave {len(outs)} outputs, "
                                  f"the op has {op.n_outputs}")
            for i, name in enumerate(outs):
                names[(id(op), i)] = name
            for i, ref in enumerate(op.outputs if info.keep_values else ()):
                t = ref()
                if t is not None:
                    info.values[outs[i]] = t.numpy()
                    info.value_op[outs[i]] = type(op).__name__

        output_names = list(output_names or [])
        renames = {}
        for i, t in enumerate(outs1):
            want = output_names[i] if i < len(output_names) else ("output" if len(outs1) == 1 else f"output_{i}")
            k = _key(t)
            if k not in names:  # an output that is a leaf (an input or a constant)
                names[k] = self._leaf(t, state, leaf_values2.get(id(t)))
            have = names[k]
            renamable = (not isinstance(k, int) and have not in renames
                         and have not in {o.name for o in self.outputs})
            if renamable and want not in self._used:
                renames[have] = want
                self._used.add(want)
                final = want
            else:
                final = self.add_node("Identity", [have], outputs=[self.reserve(want)])
            self.add_output(final, t.dtype, self._dims[k])
            info.outputs.append(final)
        if renames:
            self._rename(renames)
            info.values = {renames.get(k, k): v for k, v in info.values.items()}
            info.value_op = {renames.get(k, k): v for k, v in info.value_op.items()}
        dropped = self._prune_unused(set(state.values()))
        info.values = {k: v for k, v in info.values.items() if k not in dropped}
        info.value_op = {k: v for k, v in info.value_op.items() if k not in dropped}

    def is_zero_constant(self, t):
        """Whether traced Tensor `t` is a constant of zeros (not a graph input, parameter or buffer): rules may
        leave such an input out where ONNX makes it optional with zeros as the default."""
        return t.ctx is None and id(t) not in self._state and not any(t is x for x in self._inputs) \
            and not t.numpy().any()

    def _prune_unused(self, keep):
        """Drop nodes whose outputs nothing reads (a rule may leave out an input that was already written,
        like a state of zeros, or ignore an output), then initializers nothing reads except those in `keep`
        (parameters and buffers). Returns the names of the values dropped."""
        needed = {o.name for o in self.outputs}
        kept, dropped = [], set()
        for node in reversed(self.nodes):
            if any(n in needed for n in node.output):
                kept.append(node)
                needed.update(node.input)
                needed.update(_names_in_subgraphs(node))
            else:
                dropped.update(node.output)
        self.nodes[:] = kept[::-1]
        unused = [t for t in self.initializers if t.name not in needed and t.name not in keep]
        if unused:
            names = {t.name for t in unused}
            self.initializers[:] = [t for t in self.initializers if t.name not in names]
            self._consts = {k: v for k, v in self._consts.items() if v not in names}
            dropped |= names
        return dropped

    def _leaf(self, t, state, value2):
        """The ONNX name of a leaf Tensor that is not a graph input: a named initializer, a constant, or a
        value computed from N when it depends on the batch size."""
        dims = self._dims[id(t)]
        array = t.numpy()
        name = state.get(id(t))
        if name is not None:
            return self.add_initializer(array, name)
        if not is_static(dims):
            flat = array.reshape(-1)
            if flat.size and (flat == flat[0]).all() and value2 is not None and (value2 == flat[0]).all():
                fill = onnx.numpy_helper.from_array(flat[:1].copy())
                return self.add_node("ConstantOfShape", [self.shape_value(dims)], value=fill)
            raise ExportError(f"a constant tensor of shape {tuple(array.shape)} depends on the batch size and is "
                              "not uniform; build it from ops on the input, or export with dynamic_batch=False")
        if value2 is not None and not np.array_equal(value2, array):
            return self._batch_scalar(array, value2)
        return self.const(array)

    def _batch_scalar(self, v1, v2):
        """A constant whose value follows the batch size (like `x.sum() / x.shape[0]`): a * N + b or c / N."""
        if v1.size != 1:
            raise ExportError(f"a constant of shape {v1.shape} changes with the batch size; export with "
                              "dynamic_batch=False")
        n1 = self._batch_n1
        x1, x2 = float(v1.reshape(())), float(v2.reshape(()))
        n = self.cast(self.batch_size(), np.float64)
        if x1 != 0 and np.isclose(x1 * n1, x2 * (n1 + 1), rtol=1e-12, atol=0):
            value = self.add_node("Div", [self.const(np.array([x1 * n1])), n])
        else:
            a, b = x2 - x1, x1 - (x2 - x1) * n1
            value = self.add_node("Add", [self.add_node("Mul", [n, self.const(np.array([a]))]),
                                          self.const(np.array([b]))])
        value = self.add_node("Reshape", [value, self.ints(v1.shape)])
        return self.cast(value, v1.dtype)

    def _pair(self, ops1, ops2, leaves1, leaves2, inputs1, inputs2, outs1, outs2, leaf_values2):
        same = (len(ops1) == len(ops2) and len(leaves1) == len(leaves2) and len(outs1) == len(outs2)
                and all(type(a) is type(b) and a.n_outputs == b.n_outputs for a, b in zip(ops1, ops2)))
        if not same:
            raise ExportError("the model builds a different graph at another batch size (data-dependent "
                              "control flow?); export with dynamic_batch=False")
        n1 = None
        for t1, t2 in zip(inputs1, inputs2):
            for d1, d2 in zip(t1.shape, t2.shape):
                if d1 != d2:
                    n1 = d1
        self._batch_n1 = n1
        for a, b in zip(ops1, ops2):
            self._twins[id(a)] = b
            for i in range(a.n_outputs):
                self._dims[(id(a), i)] = _fit(a.out_meta[i][0], b.out_meta[i][0], n1)
        for t1, t2 in zip(leaves1, leaves2):
            self._dims[id(t1)] = _fit(t1.shape, t2.shape, n1)
            leaf_values2[id(t1)] = t2.numpy()

    def _rename(self, renames):
        for node in self.nodes:
            for seq in (node.input, node.output):
                for j, n in enumerate(seq):
                    if n in renames:
                        seq[j] = renames[n]


# ---- helpers ----
def _as_array(a):
    if isinstance(a, Tensor):
        return a.numpy()
    a = np.asarray(a)
    if a.dtype == np.float64:
        return a.astype(np.float32)  # plain Python floats and float64 arrays: the engine's default dtype
    return a


def _batch_axes(arrays, dynamic_batch):
    if dynamic_batch is True:
        axes = [0 if a.ndim >= 1 else None for a in arrays]
        sizes = {a.shape[0] for a in arrays if a.ndim >= 1}
        if len(sizes) > 1:  # only inputs of the first one's leading size carry the batch
            first = arrays[0].shape[0] if arrays[0].ndim else None
            axes = [0 if a.ndim and a.shape[0] == first else None for a in arrays]
        return axes
    if not dynamic_batch:
        return [None] * len(arrays)
    axes = list(dynamic_batch) + [None] * (len(arrays) - len(dynamic_batch))
    return [None if ax is None else ax % arrays[i].ndim for i, ax in enumerate(axes)]


class _export_mode:
    """Put a Module in eval (or training) mode for the trace; restore modes and buffers afterwards."""

    def __init__(self, model, training):
        self.model, self.training = model, training

    def __enter__(self):
        if isinstance(self.model, Module):
            self.modes = [(m, m.training) for m in self.model.modules()]
            self.buffers = [(b, b.data.copy()) for _, b in self.model.named_buffers() if isinstance(b, Tensor)]
            self.model.train(self.training)

    def __exit__(self, *exc):
        if isinstance(self.model, Module):
            for m, mode in self.modes:
                object.__setattr__(m, "training", mode)
            for b, data in self.buffers:
                b.data = data


def _trace(model, arrays):
    inputs = [Tensor(a) for a in arrays]
    with autograd.record_graph(), autograd.no_grad():
        out = model(*inputs)
    return inputs, _flatten(out)


def _flatten(out):
    """The Tensors of a model's output (a Tensor, or nested tuples/lists of them), in order."""
    found, stack = [], [out]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif item is not None:
            raise ExportError(f"the model returned a {type(item).__name__}; export needs Tensors")
    if not found:
        raise ExportError("the model returned no Tensor")
    return found


def _key(t):
    return (id(t.ctx), t.out_index) if t.ctx is not None else id(t)


def _linearize(outputs):
    """Ops in topological order (inputs first) and leaf Tensors in first-visit order, by an iterative
    depth-first walk that visits each op's inputs in order (so two traces of one model line up)."""
    ops, leaves, seen = [], [], set()
    stack = [(False, t) for t in reversed(outputs)]
    while stack:
        done, item = stack.pop()
        if done:
            ops.append(item)
            continue
        if item.ctx is None:
            if id(item) not in seen:
                seen.add(id(item))
                leaves.append(item)
            continue
        op = item.ctx
        if id(op) in seen:
            continue
        seen.add(id(op))
        stack.append((True, op))
        stack.extend((False, p) for p in reversed(op.inputs))
    return ops, leaves


def _fit(shape1, shape2, n1):
    """Dims of one value in both traces -> ints, or BatchDim(a, b) with size = a * N + b."""
    if len(shape1) != len(shape2):
        raise ExportError(f"a value has rank {len(shape1)} at one batch size and {len(shape2)} at another")
    out = []
    for d1, d2 in zip(shape1, shape2):
        out.append(d1 if d1 == d2 else BatchDim(d2 - d1, d1 - (d2 - d1) * n1))
    return tuple(out)


def _names_in_subgraphs(node):
    """Every value name a node's subgraphs (If, Loop, Scan bodies) read, at any depth."""
    names, stack = set(), [node]
    while stack:
        for a in stack.pop().attribute:
            for sub in list(a.g.node if a.HasField("g") else []) + [n for g in a.graphs for n in g.node]:
                names.update(sub.input)
                stack.append(sub)
    return names


def _state_names(model):
    """id(tensor) -> name for every parameter and buffer of a Module."""
    if not isinstance(model, Module):
        return {}
    names = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if isinstance(t, Tensor):
            names.setdefault(id(t), name)
    return names


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) or hasattr(a, "__cuda_array_interface__"):
        try:
            return np.array_equal(np.asarray(a), np.asarray(b))
        except Exception:
            return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _describe(model):
    return type(model).__name__ if isinstance(model, Module) else getattr(model, "__name__", type(model).__name__)


__all__ = ["export_onnx", "trace_export", "ExportGraph", "ExportInfo", "save", "onnx_dtype"]
