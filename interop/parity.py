"""`check_parity`: run one model in autocompyute and in onnxruntime and say where they disagree, node by node.

Every intermediate value is promoted to a graph output for onnxruntime, so both runtimes' values of every node
can be compared in graph order; the first node whose output leaves the tolerance is reported with its name, op
type, input shapes and error.
"""
import os
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

from autocompyute.tensor import Tensor

from .errors import ParityError
from .onnx import safety

SMALL_DIM = 2  # the size given to symbolic dims when inputs are made up


@dataclass
class ValueDiff:
    """One compared value: its ONNX name, the node that made it, and both runtimes' disagreement."""
    name: str
    node: str
    op_type: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool
    input_shapes: list = field(default_factory=list)
    engine_op: str = ""


@dataclass
class ParityReport:
    ok: bool
    outputs: list          # ValueDiff per graph output
    values: list           # ValueDiff per compared intermediate value, in graph order
    first_divergence: object  # the first ValueDiff (in graph order) out of tolerance, or None
    rtol: float
    atol: float

    def max_abs(self):
        return max((o.max_abs for o in self.outputs), default=0.0)

    def __str__(self):
        verdict = "OK" if self.ok else "MISMATCH"
        lines = [f"parity: {verdict}  ({len(self.outputs)} outputs, {len(self.values)} intermediate values; "
                 f"rtol={self.rtol:g} atol={self.atol:g}; reference: onnxruntime)", ""]
        rows = [("output", "shape", "max abs err", "max rel err", "ok")]
        rows += [(o.name, str(o.shape), f"{o.max_abs:.3g}", f"{o.max_rel:.3g}", "yes" if o.ok else "NO")
                 for o in self.outputs]
        lines += _table(rows)
        lines.append("")
        d = self.first_divergence
        if d is None:
            lines.append("first diverging node: none (every intermediate value is within tolerance)")
        else:
            lines.append("first diverging node:")
            rows = [("node", "op type", "input shapes", "output", "max abs err", "max rel err")]
            shapes = ", ".join(str(s) for s in d.input_shapes)
            op_type = d.op_type + (f" (engine {d.engine_op})" if d.engine_op else "")
            rows.append((d.node, op_type, shapes, f"{d.name} {d.shape}", f"{d.max_abs:.3g}", f"{d.max_rel:.3g}"))
            lines += _table(rows)
        return "\n".join(lines)


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def check_parity(model, inputs=None, *, rtol=1e-4, atol=1e-5, base_dir=None, **export_kwargs):
    """Compare autocompyute with onnxruntime on `model`: an ONNX path, bytes or ModelProto (run here through
    interop.import_onnx), or an autocompyute Module / callable with example `inputs` (exported first;
    `export_kwargs` go to export_onnx). Missing inputs of an ONNX model are made up: random values of each
    input's dtype, symbolic dims of size 2. Returns a ParityReport (`ok`, per-output errors, the first
    diverging node)."""
    if not isinstance(model, (str, os.PathLike, bytes, onnx.ModelProto)):
        if not callable(model):
            raise ParityError(f"check_parity takes an ONNX path, bytes or ModelProto, or a module with example "
                              f"inputs; got {type(model).__name__}")
        if inputs is None:
            raise ParityError("check_parity of a module needs example inputs")
        from .export import trace_export
        return check_trace(*trace_export(model, inputs, **export_kwargs), rtol=rtol, atol=atol)
    proto = _load(model, base_dir)
    feeds = _feeds(proto, inputs)
    promoted, names = _promote(proto)
    ours = _run_imported(promoted, feeds, base_dir, model)
    return _compare(proto, feeds, ours, _run_ort(promoted, feeds, names), {}, rtol, atol)


def check_trace(proto, info, *, rtol=1e-4, atol=1e-5):
    """check_parity of what `export.trace_export` returned: our forward's values against onnxruntime's."""
    feeds = dict(info.inputs)
    promoted, names = _promote(proto, keep=set(info.values) | set(info.outputs))
    theirs = _run_ort(promoted, feeds, names)
    return _compare(proto, feeds, dict(info.values), theirs, info.value_op, rtol, atol)


# ---- the two runtimes ----
def _load(model, base_dir):
    """Parse as the importer does (strictly, hostile files refused) and read external data through its checks,
    so onnxruntime gets a self-contained model."""
    proto, base_dir = safety.load_model(model, base_dir)
    safety.inline_external(proto, lambda t: safety.tensor_to_array(t, base_dir))
    return proto


def _run_ort(proto, feeds, names):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every node's value
    try:
        sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        wanted = [o.name for o in sess.get_outputs()]
        given = {i.name: feeds[i.name] for i in sess.get_inputs() if i.name in feeds}
        return dict(zip(wanted, sess.run(wanted, given)))
    except Exception as e:  # onnxruntime's own exception types (Fail, InvalidArgument, ...)
        raise ParityError(f"onnxruntime cannot run the model: {type(e).__name__}: {e}") from e


def _run_imported(proto, feeds, base_dir, original):
    from . import import_onnx
    if base_dir is None and isinstance(original, (str, os.PathLike)):
        base_dir = os.path.dirname(os.path.abspath(os.fspath(original)))
    module = import_onnx(proto, base_dir=base_dir)
    from autocompyute import no_grad
    with no_grad():
        outs = module(**{n: feeds[n] for n in module.input_names})
    outs = outs if isinstance(outs, tuple) else (outs,)
    return {n: (o.numpy() if isinstance(o, Tensor) else np.asarray(o)) for n, o in zip(module.output_names, outs)}


def _promote(proto, keep=None):
    """A copy of `proto` whose graph outputs also list every node output (those in `keep`, when given), typed
    from shape inference. Returns (copy, names of all graph outputs)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    try:
        inferred = onnx.shape_inference.infer_shapes(copy)
    except Exception:
        inferred = copy
    types = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    have = {o.name for o in copy.graph.output}
    for node in copy.graph.node:
        for name in node.output:
            if not name or name in have or (keep is not None and name not in keep):
                continue
            have.add(name)
            vi = types.get(name)
            copy.graph.output.append(vi if vi is not None else helper.make_empty_tensor_value_info(name))
    return copy, [o.name for o in copy.graph.output]


# ---- inputs ----
def _feeds(proto, inputs):
    """Named input arrays: given ones (a dict, a list in order, an .npz mapping) or random ones."""
    inits = {i.name for i in proto.graph.initializer}
    graph_inputs = [i for i in proto.graph.input if i.name not in inits]
    if inputs is not None:
        if isinstance(inputs, dict) or hasattr(inputs, "files"):
            keys = list(inputs.keys())
            if all(i.name in keys for i in graph_inputs):
                return {i.name: np.asarray(inputs[i.name]) for i in graph_inputs}
            inputs = [inputs[k] for k in keys]
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(inputs) < len(graph_inputs):
            raise ParityError(f"the model takes inputs {[i.name for i in graph_inputs]}, got {len(inputs)} "
                              "(by position, or a mapping that names them all)")
        return {i.name: _array(x) for i, x in zip(graph_inputs, inputs)}
    rng = np.random.default_rng(0)
    feeds = {}
    for i in graph_inputs:
        t = i.type.tensor_type
        try:
            dtype = helper.tensor_dtype_to_np_dtype(t.elem_type) if i.type.HasField("tensor_type") else None
        except KeyError:
            dtype = None
        if dtype is None:
            raise ParityError(f"input {i.name!r} has no tensor type numpy knows: pass its values as inputs")
        shape = tuple(d.dim_value if d.HasField("dim_value") else SMALL_DIM for d in t.shape.dim)
        safety.check_alloc(shape, dtype, f"input {i.name!r}")
        if dtype.kind == "f":
            feeds[i.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[i.name] = rng.random(shape) < 0.5
        else:
            feeds[i.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def _array(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


# ---- comparing ----
def _errors(a, b):
    """max abs and max relative error of ours (a) against the reference (b)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    if a.size == 0:
        return 0.0, 0.0
    if b.dtype.kind not in "fc":
        wrong = float(np.count_nonzero(a != b))
        return wrong, wrong
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(a64 - b64)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    diff = np.where(same, 0.0, diff)
    rel = diff / np.maximum(np.abs(b64), np.finfo(np.float64).tiny)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))), float(np.nanmax(np.where(same, 0.0, rel)))


def _close(a, b, rtol, atol):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if b.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True))


def _compare(proto, feeds, ours, theirs, engine_ops, rtol, atol):
    shapes = {n: np.shape(v) for n, v in feeds.items()}
    shapes.update({i.name: tuple(i.dims) for i in proto.graph.initializer})
    shapes.update({n: np.shape(v) for n, v in theirs.items()})
    producer = {}
    for node in proto.graph.node:
        for name in node.output:
            producer[name] = node

    def row(name):
        node = producer.get(name)
        a, b = ours[name], theirs[name]
        max_abs, max_rel = _errors(a, b)
        return ValueDiff(name=name, node=node.name if node else "", op_type=node.op_type if node else "",
                           shape=tuple(np.shape(b)), max_abs=max_abs, max_rel=max_rel, ok=_close(a, b, rtol, atol),
                           input_shapes=[shapes.get(i, "?") if i else None for i in node.input] if node else [],
                           engine_op=engine_ops.get(name, ""))

    outputs = [row(o.name) for o in proto.graph.output if o.name in ours and o.name in theirs]
    missing = [o.name for o in proto.graph.output if o.name not in ours or o.name not in theirs]
    out_names = {o.name for o in proto.graph.output}
    values, first = [], None
    for node in proto.graph.node:
        for name in node.output:
            if name and name in ours and name in theirs:
                r = row(name)
                if name not in out_names:
                    values.append(r)
                if first is None and not r.ok:
                    first = r
    ok = not missing and all(o.ok for o in outputs)
    return ParityReport(ok=ok, outputs=outputs, values=values, first_divergence=first, rtol=rtol, atol=atol)


__all__ = ["check_parity", "ParityReport"]
