"""Import rules for control flow: If, Loop and Scan run eagerly, so gradients flow through the branch or the
iterations taken. Subgraphs see the values of the enclosing graphs by name.

Also the ops that ONNX defines by a function body (RotaryEmbedding, SwiGLU, LinearAttention, AffineGrid, ...):
`run_function_body` runs the body's nodes through the other rules, and family rules call it for the attribute
combinations they do not compose."""
import numpy as np
import onnx
from onnx import helper, numpy_helper

import autocompyute.functional as F
from autocompyute.tensor import Tensor

from ..errors import OnnxImportError
from . import safety
from ._import_util import axis as wrap_axis, check_alloc, const, ints, rule, scalar
from .registry import import_rule


def _check_body(what, body, n_inputs, n_outputs):
    """A subgraph takes and gives as many values as the node passes and names (where they are paired up, a
    mismatch would be cut short silently)."""
    if len(body.inputs) != n_inputs or len(body.outputs) != n_outputs:
        raise OnnxImportError(f"{what}: the body takes {len(body.inputs)} inputs and gives {len(body.outputs)} "
                              f"outputs; the node needs {n_inputs} and {n_outputs}")


@import_rule("If", since=1)
def if_(cond, *, then_branch, else_branch, ctx):
    for name, g in (("then_branch", then_branch), ("else_branch", else_branch)):
        _check_body(f"If {name}", g, 0, len(ctx.node.outputs))
    branch = then_branch if bool(scalar(cond)) else else_branch
    outs = ctx.run(branch)
    return tuple(outs) if len(outs) > 1 else outs[0]


def _kept_under_limit(kept_bytes, new_outputs, carried, what):
    """What a Loop's or Scan's iterations keep (their stacked outputs so far, and each carried value) stays under
    the tensor limit; returns the outputs' bytes so far."""
    kept_bytes += sum(o.data.nbytes for o in new_outputs)
    check_alloc((max([kept_bytes] + [v.data.nbytes for v in carried]),), np.uint8, what)
    return kept_bytes


@import_rule("Loop", since=1)
def loop(max_trip_count=None, cond=None, *carried, body, ctx):
    """Runs `body(i, cond, *carried) -> (cond, *carried, *scan_outputs)` while i < max_trip_count and cond;
    the scan outputs of each iteration are stacked along a new first axis."""
    trips = None if max_trip_count is None else int(scalar(max_trip_count))
    keep_going = True if cond is None else bool(scalar(cond))
    values, n = list(carried), len(carried)
    _check_body("Loop", body, 2 + n, 1 + len(ctx.node.outputs))
    scans, scan_bytes = [], 0
    i = 0
    while keep_going and (trips is None or i < trips):
        ctx.spend_iterations(1)
        outs = ctx.run(body, [Tensor(np.asarray(i, np.int64)), Tensor(np.asarray(keep_going)), *values])
        keep_going = bool(scalar(outs[0]))
        values = list(outs[1:1 + n])
        scans.append(outs[1 + n:])
        scan_bytes = _kept_under_limit(scan_bytes, scans[-1], values, "Loop")
        i += 1
    n_scan = len(body.outputs) - 1 - n
    stacked = []
    for k in range(n_scan):
        if scans:
            stacked.append(F.stack(ctx.one_device([s[k] for s in scans]), 0))
        else:
            stacked.append(Tensor(np.zeros((0,), np.float32)))
    result = values + stacked
    return tuple(result) if len(result) != 1 else result[0]


# ---- Scan: runs eagerly like Loop, so gradients flow through every iteration ----
def _scan_run(body, states, scans, in_axes, in_dirs, out_axes, out_dirs, ctx):
    """One scan over `scans` (Tensors, sliced along in_axes) carrying `states`; returns states + stacked outputs."""
    n = len(states)
    steps = scans[0].shape[in_axes[0]] if scans else 0
    ctx.spend_iterations(steps)  # all at once: refused before the first one runs
    collected, kept_bytes = [], 0
    for t in range(steps):
        slices = []
        for x, ax, rev in zip(scans, in_axes, in_dirs):
            slices.append(x[(slice(None),) * ax + (steps - 1 - t if rev else t,)])
        outs = ctx.run(body, [*states, *slices])
        states = list(outs[:n])
        collected.append(outs[n:])
        kept_bytes = _kept_under_limit(kept_bytes, collected[-1], states, "Scan")
    k = len(body.outputs) - n
    stacked = []
    for j in range(k):
        ys = [c[j] for c in collected]
        if out_dirs[j]:
            ys = ys[::-1]
        stacked.append(F.stack(ctx.one_device(ys), out_axes[j]) if ys else Tensor(np.zeros((0,), np.float32)))
    return states, stacked


def _scan_attrs(values, count, what):
    """One int per scanned input or output (0 for each where the attribute is omitted)."""
    out = [int(v) for v in values] if values else [0] * count
    if len(out) != count:
        raise OnnxImportError(f"Scan: {what} {out} has {len(out)} values for {count}")
    return out


def _scan_directions(values, count, what):
    """`_scan_attrs` that are directions: 0 (forward) or 1 (reverse)."""
    out = _scan_attrs(values, count, what)
    if not set(out) <= {0, 1}:
        raise OnnxImportError(f"Scan: {what} {out} must be 0 (forward) or 1 (reverse)")
    return out


@import_rule("Scan", since=9)
def scan(*inputs, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
         scan_output_axes=None, scan_output_directions=None, ctx):
    """inputs = N initial states, then M scan inputs; the body maps (states, slices) -> (states, slices out)."""
    if not 1 <= num_scan_inputs <= len(inputs):
        raise OnnxImportError(f"Scan: num_scan_inputs={num_scan_inputs} for {len(inputs)} inputs")
    n = len(inputs) - num_scan_inputs
    states, scans = list(inputs[:n]), list(inputs[n:])
    k = len(body.outputs) - n
    _check_body("Scan", body, len(inputs), len(ctx.node.outputs))
    in_axes = [wrap_axis(a, x.ndim, "Scan: scan_input_axes value")
               for a, x in zip(_scan_attrs(scan_input_axes, len(scans), "scan_input_axes"), scans)]
    in_dirs = _scan_directions(scan_input_directions, len(scans), "scan_input_directions")
    out_dirs = _scan_directions(scan_output_directions, k, "scan_output_directions")
    out_axes = _scan_attrs(scan_output_axes, k, "scan_output_axes")
    # a negative output axis counts in the stacked rank (one more than a slice's)
    states, stacked = _scan_run(body, states, scans, in_axes, in_dirs, out_axes, out_dirs, ctx)
    result = states + stacked
    return tuple(result) if len(result) != 1 else result[0]


@import_rule("Scan", since=8)
def scan_8(sequence_lens, *inputs, body, num_scan_inputs, directions=None, ctx):
    """Opset 8: a leading batch axis on every input; each batch entry is scanned along its axis 1 (up to its
    sequence length), and the results are stacked again."""
    n = len(inputs) - num_scan_inputs
    k = len(body.outputs) - n
    _check_body("Scan", body, len(inputs), len(ctx.node.outputs))
    batch = inputs[0].shape[0]
    lens = None if sequence_lens is None else ints(sequence_lens)
    dirs = _scan_directions(directions, num_scan_inputs, "directions")
    per_batch = []
    for b in range(batch):
        states = [x[b] for x in inputs[:n]]
        scans = [x[b] for x in inputs[n:]]
        if lens is not None:
            scans = [x[:lens[b]] for x in scans]
        states, stacked = _scan_run(body, states, scans, [0] * len(scans), dirs, [0] * k, [0] * k, ctx)
        per_batch.append(states + stacked)
    steps = inputs[n].shape[1] if num_scan_inputs else 0
    for r in per_batch:  # a sequence shorter than the batch's: its scan outputs end in zeros
        for j in range(n, n + k):
            short = steps - r[j].shape[0]
            if short > 0:
                r[j] = F.cat([r[j], const(np.zeros((short, *r[j].shape[1:]), r[j].dtype), r[j])], 0)
    result = [F.stack([r[j] for r in per_batch], 0) for j in range(n + k)]
    return tuple(result) if len(result) != 1 else result[0]


# ---- ops that ONNX defines by a function body: run the body (its nodes go through the other rules, so the
# gradient flows as through any imported graph) ----
_FUNCTION_MODULES = {}


def _attr_for_proto(v):
    return numpy_helper.from_array(v.numpy()) if isinstance(v, Tensor) else v


def _node_attributes(model, outputs):
    """The AttributeProtos of the node (in `model`, subgraphs included) that writes `outputs`."""
    for g in safety.graph_protos(model):
        for n in g.node:
            if list(n.output) == list(outputs):
                return {a.name: a for a in n.attribute}
    return {}


def _function_module(op_type, domain, opset, attrs, inputs, node_outputs, onnx_opset, protos, device):
    """An imported one-node model whose node is expanded by the schema's function body, on `device` (cached by
    signature)."""
    from ..importer import import_onnx
    names = [f"x{i}" if x is not None else "" for i, x in enumerate(inputs)]
    while names and not names[-1]:
        names.pop()
    outs = [f"y{i}" if n else "" for i, n in enumerate(node_outputs)]
    key = (op_type, domain, opset,
           repr(sorted((k, repr(_attr_for_proto(v))) for k, v in attrs.items() if k not in protos)),
           tuple((k, a.SerializeToString()) for k, a in sorted(protos.items())),
           tuple((x.dtype.str, tuple(x.shape)) for x in inputs if x is not None), tuple(names), tuple(outs), device)
    module = _FUNCTION_MODULES.get(key)
    if module is not None:
        return module
    node = helper.make_node(op_type, names, outs, domain=domain,
                            **{k: _attr_for_proto(v) for k, v in attrs.items() if k not in protos})
    node.attribute.extend(protos.values())
    types = [helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
             for x in inputs if x is not None]
    schema = onnx.defs.get_schema(op_type, opset, domain)
    given = {a.name for a in node.attribute}
    for name, spec in schema.attributes.items():  # the body may refer to attributes the node leaves at default
        if name not in given and spec.default_value.type:
            default = onnx.AttributeProto.FromString(spec.default_value.SerializeToString())
            default.name = name
            node.attribute.append(default)
    if schema.has_context_dependent_function:
        fn = onnx.FunctionProto()
        fn.ParseFromString(schema.get_context_dependent_function_with_opset_version(
            opset, node.SerializeToString(), [t.SerializeToString() for t in types]))
    else:
        body = schema.get_function_with_opset_version(opset) or schema.function_body
        fn = body if isinstance(body, onnx.FunctionProto) else onnx.FunctionProto.FromString(body)
    fn.name, fn.domain = op_type, domain
    produced = {o for n in fn.node for o in n.output} | set(fn.input)
    for o in fn.output:  # outputs the node leaves unnamed may have no producer in a context-dependent body
        if o not in produced:
            fn.node.append(helper.make_node("Constant", [], [o], value=numpy_helper.from_array(
                np.zeros((0,), np.float32))))
    graph = helper.make_graph(
        [node], op_type,
        [helper.make_value_info(n, t) for n, t in zip([n for n in names if n], types)],
        [helper.make_empty_tensor_value_info(o) for o in outs if o])
    opsets = {o.domain: o.version for o in fn.opset_import}
    opsets.setdefault("", onnx_opset)
    opsets[domain] = opset
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    if len(_FUNCTION_MODULES) > 512:  # shapes vary (sequence lengths): keep the cache bounded
        _FUNCTION_MODULES.clear()
    module = _FUNCTION_MODULES[key] = import_onnx(model).to(device)
    return module


def _graph_attributes(ctx, attrs):
    """The node's GRAPH/GRAPHS attributes as AttributeProtos (the rule sees them compiled)."""
    from ..importer import Graph
    graphs = [k for k, v in attrs.items() if isinstance(v, Graph) or isinstance(v, list) and v and
              isinstance(v[0], Graph)]
    if not graphs:
        return {}
    found = _node_attributes(ctx.module._proto, ctx.node.outputs)
    return {k: found[k] for k in graphs}


def run_function_body(op_type, inputs, attrs, ctx, domain="", default_opset=1):
    """Run the node in `ctx` (op_type, `inputs` with None for omitted ones, parsed `attrs`) through ONNX's
    function body for it. A family rule can call this for the attribute combinations it does not compose."""
    opsets = ctx.module.opset
    opset = opsets.get(domain or "ai.onnx", default_opset)
    protos = _graph_attributes(ctx, attrs)
    module = _function_module(op_type, domain, opset, attrs, inputs, ctx.node.outputs,
                              opsets.get("ai.onnx", onnx.defs.onnx_opset_version()), protos,
                              ctx.module._const_device)
    outs = module(*[x for x in inputs if x is not None])
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    it = iter(outs)
    result = [next(it) if n else None for n in ctx.node.outputs]
    return tuple(result) if len(result) != 1 else result[0]


def _by_function(op_type, *versions, domain=""):
    """A rule for `op_type` that runs ONNX's own function body for it, where no family file has a rule."""
    def expand(*inputs, ctx, **attrs):
        return run_function_body(op_type, inputs, attrs, ctx, domain, versions[-1])
    expand.__name__ = f"{op_type}_by_function"
    rule(op_type, *versions, domain=domain)(expand)
    return expand


for _op, _versions in (("LinearAttention", (27,)), ("RotaryEmbedding", (23,)), ("SwiGLU", (28,)),
                       ("CausalConvWithState", (27,)), ("AffineGrid", (20,))):
    _by_function(_op, *_versions)
_by_function("FlexAttention", 1, domain="ai.onnx.preview")
