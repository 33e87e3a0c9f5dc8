"""`import_onnx`: an ONNX model as a trainable `nn.Module`.

    model = import_onnx("model.onnx")          # path, bytes or onnx.ModelProto
    y = model(x)                                # Tensors or numpy arrays, by position or input name
    model.freeze(lambda name: "encoder" in name)
    model.to_onnx("tuned.onnx")                 # the same graph with the current weights

Floating-point initializers become Parameters under their ONNX names, those inside If/Loop/Scan subgraphs too
(BatchNormalization's running statistics become buffers); integer initializers and Constant nodes stay constants.
Each node runs through an import rule written against the Tensor API (interop/onnx/<family>.py), so every graph is
differentiable by construction.

A rule is `fn(*inputs, **attributes)`: inputs are Tensors (None for an omitted optional input), attributes are
keyword-only arguments with the spec's defaults (ints, floats, str, lists, Tensors for TENSOR attributes, and
compiled `Graph`s for GRAPH attributes). A rule that needs the run's state (training mode, running a subgraph)
declares a keyword-only `ctx` and gets a `Context`. It returns a Tensor or a tuple (one per node output).
"""
import collections
import contextvars
import functools
import heapq
import inspect
import os

import numpy as np
import onnx
from onnx import AttributeProto, numpy_helper

from autocompyute import backends
from autocompyute.dtypes import as_dtype
from autocompyute.errors import AutoCompyuteError
from autocompyute.nn.module import Module, Parameter
from autocompyute.tensor import Tensor, to_arguments

from .errors import OnnxImportError, OnnxRunError, UnsafeModelError, UnsupportedOpError
from .onnx import safety
from .onnx.registry import canonical_domain, find_import_rule, load_rules

# Input slots whose floating-point initializers are not trainable: (op_type, input index). BatchNormalization's
# running mean and variance become buffers; the others (scales, bounds, ratios) stay constants.
_BUFFER_SLOTS = {("BatchNormalization", 3), ("BatchNormalization", 4)}
_CONSTANT_SLOTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1), ("Clip", 1), ("Clip", 2), ("Dropout", 1),
                   ("Range", 0), ("Range", 1), ("Range", 2), ("ConstantOfShape", 0)}

# ---- compiled graphs ----
class Graph:
    """A GraphProto ready to run: its input and output names, constants and steps, in order."""

    __slots__ = ("name", "inputs", "outputs", "consts", "steps", "input_dtypes", "input_shapes")

    def __init__(self, name):
        self.name, self.inputs, self.outputs, self.consts, self.steps, self.input_dtypes = name, [], [], {}, [], {}
        self.input_shapes = {}  # declared shapes of the main graph's inputs: a dim's size, or None (symbolic)

    def __repr__(self):
        return f"Graph({self.name!r}, {len(self.steps)} nodes)"


class Step:
    """One node: the rule, the value names it reads and writes, its parsed attributes, and the values no later
    node reads (`frees`: dropped after it runs, so a forward pass holds what a native one would)."""

    __slots__ = ("fn", "inputs", "outputs", "attrs", "wants_ctx", "name", "op_type", "frees")

    def __init__(self, fn, inputs, outputs, attrs, wants_ctx, name, op_type):
        self.fn, self.inputs, self.outputs, self.attrs = fn, inputs, outputs, attrs
        self.wants_ctx, self.name, self.op_type = wants_ctx, name, op_type
        self.frees = ()


# Loop and Scan iterations left to the model run under way: one budget of safety.LIMITS['max_loop_iterations'] per
# top-level run, spent by every loop in it (subgraphs, nested loops, function bodies a node runs), so that nesting
# loops cannot multiply the limit. A one-item list, so that nested runs spend from the same one.
_ITERATIONS_LEFT = contextvars.ContextVar("iterations_left", default=None)


class Context:
    """What a rule with a `ctx` argument sees: the module's mode, the node, and a way to run subgraphs."""

    def __init__(self, module, env):
        self.module = module
        self.env = env
        self.node = None

    @property
    def training(self):
        return self.module.training

    def run(self, graph, inputs=(), isolated=False):
        """Run a compiled subgraph on `inputs` (by position); values of the enclosing scopes stay visible
        unless `isolated` (function bodies). Returns the list of its outputs."""
        return _run_graph(self.module, graph, inputs, None if isolated else self.env)

    def one_device(self, values):
        """`values` (Tensors a rule combines, e.g. a Loop's iterations to stack) on one device, as a node's inputs
        are (see `_one_device`)."""
        device = self.module._const_device
        return values if device == "cpu" else _one_device(values, device)

    def spend_iterations(self, n):
        """Count `n` iterations of this node (a Loop or Scan) against the run's budget; UnsafeModelError naming
        the node when the run's loops, over all nesting, would go past it."""
        left = _ITERATIONS_LEFT.get()
        if n > left[0]:
            limit = safety.LIMITS["max_loop_iterations"]
            raise UnsafeModelError(f"{self.node.op_type} {self.node.name!r}: the model run's Loop and Scan "
                                   f"iterations (all nested loops together) exceed the limit of {limit:,} "
                                   "(interop.onnx.safety.LIMITS['max_loop_iterations'])")
        left[0] -= n

    def buffer(self, name):
        """The module's buffer called `name`, or None (BatchNormalization updates its running statistics)."""
        return self.module._buffers.get(name) if name else None


class _Scope(dict):
    """Values of one graph run; names missing here are looked up in the enclosing scope."""

    __slots__ = ("parent",)

    def __missing__(self, key):
        if self.parent is None:
            raise OnnxImportError(f"value {key!r} is not defined")
        return self.parent[key]


def _run_graph(module, graph, inputs, parent, feeds=None):
    env = _Scope(graph.consts)
    env.parent = parent
    if feeds is not None:
        env.update(feeds)
    else:
        for name, x in zip(graph.inputs, inputs):
            env[name] = x
    ctx = Context(module, env)
    device = module._const_device
    for step in graph.steps:
        args = [env[n] if n else None for n in step.inputs]
        if device != "cpu":
            args = _one_device(args, device)
        try:
            if step.wants_ctx:
                ctx.node = step
                out = step.fn(*args, ctx=ctx, **step.attrs)
            else:
                out = step.fn(*args, **step.attrs)
        except AutoCompyuteError as e:
            e.add_note(f"(in ONNX node {step.name!r} of type {step.op_type}, graph {graph.name!r})")
            raise
        except Exception as e:  # a rule or the engine meeting input it cannot handle: a typed error names the node
            shapes = [None if a is None else tuple(getattr(a, "shape", ())) for a in args]
            raise OnnxRunError(f"ONNX node {step.name!r} ({step.op_type}, graph {graph.name!r}) failed on inputs "
                               f"of shapes {shapes}: {type(e).__name__}: {e}") from e
        outputs = step.outputs
        if isinstance(out, (tuple, list)):
            if len(out) < sum(1 for n in outputs if n):
                raise OnnxImportError(f"node {step.name!r} ({step.op_type}): the rule gave {len(out)} outputs, "
                                      f"the node names {len(outputs)}")
            for name, o in zip(outputs, out):
                if name:
                    env[name] = o
        else:
            env[outputs[0]] = out
        for name in step.frees:
            env.pop(name, None)
    return [env[n] for n in graph.outputs]


def _run_model(module, graph, feeds):
    """Run a module's main graph with a fresh iteration budget, or with the enclosing run's one where a node of
    another model runs this one (a function body)."""
    if _ITERATIONS_LEFT.get() is not None:
        return _run_graph(module, graph, (), None, feeds)
    token = _ITERATIONS_LEFT.set([safety.LIMITS["max_loop_iterations"]])
    try:
        return _run_graph(module, graph, (), None, feeds)
    finally:
        _ITERATIONS_LEFT.reset(token)


def _one_device(args, device):
    """A node's inputs on one device: an ONNX graph runs on one, but shape computations and the values rules make
    live on the CPU, so where they meet device values in a node they move there (host-only dtypes stay)."""
    if not any(isinstance(a, Tensor) and a.device == device for a in args):
        return args
    return [a.to(device) if isinstance(a, Tensor) and a.device == "cpu" and device_dtype(a.dtype) else a
            for a in args]


def device_dtype(dtype):
    """Whether a GPU array can hold `dtype`: numpy's own numeric types, not float8, int4 and the like."""
    return dtype.isbuiltin == 1 and dtype.kind in "biufc"


# ---- compiling a ModelProto ----
# Integer attributes of the default domain's ops that are yes/no switches in every op and opset that has them (the
# slot's name: a function passes its own attributes in under other names). Other values are refused: runtimes read
# them differently (onnxruntime's reductions keep dims only for keepdims == 1, its Gemm transposes for any transA
# != 0). (Not is_test: the spec says "nonzero".)
FLAG_ATTRIBUTES = frozenset({
    "align_corners", "allowzero", "broadcast", "ceil_mode", "center_point_box", "count_include_pad",
    "detect_negative", "detect_positive", "exclusive", "fmod", "interleaved", "inverse", "is_causal", "keepdims",
    "largest", "noop_with_empty_axes", "onesided", "reverse", "saturate", "select_last_index", "sorted",
    "storage_order", "training_mode", "transA", "transB", "upper"})


def _attr_value(a, compiler, opsets, visible, fn_chain, what):
    t = a.type
    if t == AttributeProto.FLOAT:
        return float(a.f)
    if t == AttributeProto.INT:
        return int(a.i)
    if t == AttributeProto.STRING:
        return a.s.decode("utf-8", errors="replace")
    if t == AttributeProto.FLOATS:
        return [float(v) for v in a.floats]
    if t == AttributeProto.INTS:
        return [int(v) for v in a.ints]
    if t == AttributeProto.STRINGS:
        return [s.decode("utf-8", errors="replace") for s in a.strings]
    if t == AttributeProto.TENSOR:
        return Tensor(compiler.array(a.t, f"{what} attribute {a.name!r}"))
    if t == AttributeProto.TENSORS:
        return [Tensor(compiler.array(x, f"{what} attribute {a.name!r}")) for x in a.tensors]
    if t == AttributeProto.GRAPH:
        return compiler.schedule(a.g, opsets, visible, fn_chain)
    if t == AttributeProto.GRAPHS:
        return [compiler.schedule(g, opsets, visible, fn_chain) for g in a.graphs]
    if t == AttributeProto.TYPE_PROTO:
        return a.tp
    if t == AttributeProto.TYPE_PROTOS:
        return list(a.type_protos)
    raise UnsupportedOpError(f"{what}: attribute {a.name!r} of type {AttributeProto.AttributeType.Name(t)} "
                             "is not supported")


@functools.lru_cache(maxsize=None)
def _schema_attributes(domain, op_type, opset):
    """{attribute name: (AttributeProto type, required)} of an op at an opset, or None where onnx has no schema
    for it (another domain, say)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    return {n: (int(a.type), a.required) for n, a in schema.attributes.items()}


def _check_attribute_types(attrs, domain, op_type, opset, what):
    """Attributes of the type the op's schema gives, and the required ones there: a rule reads an INTS given
    for an INT, or a FLOAT for an INT, in its own way (onnxruntime refuses the model)."""
    spec = _schema_attributes(domain, op_type, opset)
    if spec is None:
        return
    kind = AttributeProto.AttributeType.Name
    for attr_name, a in attrs.items():
        if attr_name in spec and a.type != spec[attr_name][0]:
            raise OnnxImportError(f"{what}: attribute {attr_name!r} is of type {kind(a.type)}; the op takes "
                                  f"{kind(spec[attr_name][0])}")
    missing = [n for n, (_, required) in spec.items() if required and n not in attrs]
    if missing:
        raise OnnxImportError(f"{what}: required attributes {missing} are missing")


_SIGNATURES = {}


def _signature(fn):
    """(positional input count or None for *inputs, keyword names or None for **attrs, wants ctx)."""
    sig = _SIGNATURES.get(fn)
    if sig is None:
        n_pos, names, var_kw = 0, set(), False
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                n_pos = n_pos if n_pos is None else n_pos + 1
            elif p.kind == p.VAR_POSITIONAL:
                n_pos = None
            elif p.kind == p.KEYWORD_ONLY:
                names.add(p.name)
            elif p.kind == p.VAR_KEYWORD:
                var_kw = True
        sig = _SIGNATURES[fn] = (n_pos, None if var_kw else names - {"ctx"}, "ctx" in names)
    return sig


def _nodes_and_calls(root, functions):
    """(how many nodes, the local functions they call, with repeats) of a graph or function and its subgraphs."""
    nodes = [node for g in safety.nested_graphs(root) for node in g.node]
    return len(nodes), [(n.domain, n.op_type) for n in nodes if (n.domain, n.op_type) in functions]


def _expanded_nodes(model, functions):
    """How many nodes compiling the model makes: each function call compiles the function's body again, so a few
    functions calling each other twice per level make exponentially many. Priced here, before compiling anything
    (a recursive function counts as one node: compiling refuses it)."""
    own = {key: _nodes_and_calls(f, functions) for key, f in functions.items()}
    size = {}
    while len(size) < len(own):
        ready = [k for k in own if k not in size and all(c in size for c in own[k][1])]
        if not ready:  # the rest call each other in a cycle
            size.update({k: 1 for k in own if k not in size})
            break
        for k in ready:
            size[k] = own[k][0] + sum(size[c] for c in own[k][1])
    count, calls = _nodes_and_calls(model.graph, functions)
    return count + sum(size[c] for c in calls)


class _Compiler:
    """Turns a ModelProto's graph, subgraphs and function calls into `Graph`s, without recursion, collecting
    every unsupported op before anything runs."""

    def __init__(self, model, base_dir):
        self.base_dir = base_dir
        self.opsets = {canonical_domain(o.domain): int(o.version) for o in model.opset_import}
        self.functions = {(f.domain, f.name): f for f in model.functions}
        expanded = _expanded_nodes(model, self.functions)
        if expanded > safety.LIMITS["max_compiled_nodes"]:
            raise UnsafeModelError(f"the model expands to {expanded:,} nodes through nested function calls, over "
                                   f"the limit of {safety.LIMITS['max_compiled_nodes']:,} "
                                   "(interop.onnx.safety.LIMITS['max_compiled_nodes'])")
        self.missing = collections.OrderedDict()  # (domain, op_type, opset, why) -> node names
        self.jobs = []
        self.graphs = []
        self.n_steps = 0
        self.sub_params = {}  # floating-point initializers of subgraphs that become Parameters: name -> array
        self.sub_slots = []   # (compiled subgraph, initializer name): where those Parameters are read

    def array(self, t, what):
        return safety.tensor_to_array(t, self.base_dir, what)

    def schedule(self, proto, opsets, visible, fn_chain, binding=None, isolated=False, known=None):
        """A Graph for `proto`, filled in later by `run_jobs` (so nesting never recurses). `known`: the main
        graph's initializers, already read by the caller."""
        g = Graph(proto.name)
        self.jobs.append((g, proto, opsets, visible, fn_chain, binding, isolated, known))
        self.graphs.append(g)
        return g

    def run_jobs(self):
        while self.jobs:
            self._compile(*self.jobs.pop())
        if self.missing:
            lines = []
            for (domain, op_type, opset, why), names in self.missing.items():
                shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                lines.append(f"  {domain or 'ai.onnx'} {op_type} (opset {opset}){why}: nodes {shown}")
            raise UnsupportedOpError("the model uses ops the importer does not support:\n" + "\n".join(lines),
                                     [(d, o, v, names) for (d, o, v, _), names in self.missing.items()])

    def _compile(self, g, proto, opsets, visible, fn_chain, binding, isolated, known):
        if isinstance(proto, onnx.FunctionProto):
            g.inputs, g.outputs = list(proto.input), list(proto.output)
            defined = set(g.inputs)
        else:
            g.inputs = [i.name for i in proto.input]
            g.outputs = [o.name for o in proto.output]
            if known is None:
                kinds = _initializer_kinds(proto)
                for init in proto.initializer:
                    arr = self.array(init, f"initializer {init.name!r}")
                    g.consts[init.name] = Tensor(arr)
                    if kinds[init.name] == "parameter":  # a weight inside an If/Loop/Scan body trains too
                        self.sub_params.setdefault(init.name, arr)
                        self.sub_slots.append((g, init.name))
            defined = set(g.inputs) | set(g.consts) | (known or set())
        scope = (defined, None if isolated else visible)
        for i, node in _in_order(proto.node):
            name = node.name or f"{node.op_type}_{i}"
            for n in node.input:
                if n and not _visible(n, scope):
                    raise OnnxImportError(f"node {name!r} ({node.op_type}) reads {n!r}, which no earlier node, "
                                          f"input or initializer of graph {proto.name!r} defines (a truncated or "
                                          "corrupt file, or nodes reading each other in a cycle)")
            if not any(node.output):
                raise OnnxImportError(f"node {name!r} ({node.op_type}) of graph {proto.name!r} has no outputs")
            twice = [n for n in node.output if n and n in defined]
            if twice:
                raise OnnxImportError(f"node {name!r} ({node.op_type}) writes {twice}, which an earlier node, input "
                                      f"or initializer of graph {proto.name!r} defines already (ONNX names a value "
                                      "once)")
            step = self._step(node, name, opsets, scope, fn_chain, binding)
            if step is not None:
                g.steps.append(step)
            defined.update(n for n in node.output if n)
            self.n_steps += 1
            if self.n_steps > safety.LIMITS["max_compiled_nodes"]:
                raise UnsafeModelError(f"the model expands to more than {safety.LIMITS['max_compiled_nodes']:,} "
                                       "nodes (through nested function calls)")
        for n in g.outputs:
            if n and not _visible(n, scope):
                raise OnnxImportError(f"graph {proto.name!r} output {n!r} is not produced by any node "
                                      "(a truncated or corrupt file?)")

    def _step(self, node, name, opsets, scope, fn_chain, binding):
        domain = canonical_domain(node.domain)
        key = (node.domain, node.op_type)
        attrs = {}
        for a in node.attribute:
            if a.ref_attr_name:
                if binding is None or a.ref_attr_name not in binding:
                    continue  # not given by the caller: the op's default applies
                value = binding[a.ref_attr_name]
            else:
                value = a
            attrs[a.name] = value
        if key in self.functions:
            if key in fn_chain:
                raise UnsafeModelError(f"function {node.domain}.{node.op_type} calls itself")
            fn = self.functions[key]
            fn_opsets = dict(self.opsets)
            fn_opsets.update({canonical_domain(o.domain): int(o.version) for o in fn.opset_import})
            fn_binding = {a.name: a for a in fn.attribute_proto}
            fn_binding.update(attrs)
            body = self.schedule(fn, fn_opsets, None, fn_chain + (key,), fn_binding, isolated=True)
            return Step(_call_function, list(node.input), list(node.output), {"body": body}, True, name,
                        node.op_type)
        opset = opsets.get(domain)
        rule = find_import_rule(domain, node.op_type, opset) if opset is not None else None
        if rule is None:
            self._miss(domain, node.op_type, opset, "", name)
            return None
        n_pos, known, wants_ctx = _signature(rule)
        if n_pos is not None and len(node.input) > n_pos:
            self._miss(domain, node.op_type, opset, f" with {len(node.input)} inputs", name)
            return None
        _check_attribute_types(attrs, domain, node.op_type, opset, f"node {name!r} ({node.op_type})")
        parsed = {}
        for attr_name, a in attrs.items():
            if known is not None and attr_name not in known:
                self._miss(domain, node.op_type, opset, f" attribute {attr_name!r}", name)
                continue
            parsed[attr_name] = _attr_value(a, self, opsets, scope, fn_chain, f"node {name!r}")
            if attr_name in FLAG_ATTRIBUTES and domain == "" and parsed[attr_name] not in (0, 1):
                raise OnnxImportError(f"node {name!r} ({node.op_type}): attribute {attr_name!r} is "
                                      f"{parsed[attr_name]}; it is a switch, 0 or 1")
        return Step(rule, list(node.input), list(node.output), parsed, wants_ctx, name, node.op_type)

    def plan_frees(self):
        """Give each step of every compiled graph the values it reads or writes last (see `_plan_frees`)."""
        for g in self.graphs:
            _plan_frees(g)

    def _miss(self, domain, op_type, opset, why, name):
        self.missing.setdefault((domain, op_type, "?" if opset is None else opset, why), []).append(name)


def _subgraphs(step):
    for v in step.attrs.values():
        if isinstance(v, Graph):
            yield v
        elif isinstance(v, list) and v and isinstance(v[0], Graph):
            yield from v


def _plan_frees(g):
    """Set `step.frees` for the steps of `g`: the values read (or written) for the last time there, except the
    graph's outputs and any name a nested subgraph reads from the enclosing scope (kept for the whole run)."""
    keep = set(g.outputs)
    stack, seen = [sub for step in g.steps for sub in _subgraphs(step)], set()
    while stack:  # every name used anywhere below g, without recursion
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        keep.update(sub.outputs)
        for step in sub.steps:
            keep.update(step.inputs)
            stack.extend(_subgraphs(step))
    last = {}
    for i, step in enumerate(g.steps):
        for n in step.inputs:
            last[n] = i
        for n in step.outputs:
            last[n] = i
    frees = collections.defaultdict(list)
    for n, i in last.items():
        if n and n not in keep:
            frees[i].append(n)
    for i, names in frees.items():
        g.steps[i].frees = tuple(names)


def _in_order(nodes):
    """(position, node) pairs in an order where no node (or its subgraphs) reads a value a later one writes: as
    given when they are already (as ONNX asks), else sorted, as onnxruntime does. Nodes in a cycle, and those that
    read from one, come last in their own order, for the compiler to refuse by name."""
    writer = {}
    for i, node in enumerate(nodes):
        for o in node.output:
            if o:  # (an empty name is an omitted output, no value)
                writer.setdefault(o, i)
    needs = [{writer[n] for n in _reads(node) if n in writer} for node in nodes]
    if all(max(d, default=-1) < i for i, d in enumerate(needs)):
        return list(enumerate(nodes))
    readers = collections.defaultdict(list)
    for i, d in enumerate(needs):
        for j in d - {i}:
            readers[j].append(i)
    waiting = [len(d - {i}) if i not in d else -1 for i, d in enumerate(needs)]  # -1: reads its own output
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:  # the lowest position first among the nodes ready: the file's order wherever it holds
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    placed = set(order)
    order += [i for i in range(len(nodes)) if i not in placed]
    return [(i, nodes[i]) for i in order]


def _reads(node):
    """The names a node reads: its inputs, and what the nodes of its subgraphs read (values of the enclosing graph
    among them; ONNX names are unique across scopes, so the rest match no writer here)."""
    subgraphs = [g for a in node.attribute for g in ([a.g] if a.type == AttributeProto.GRAPH else a.graphs)]
    names = set(node.input) | {n for g in safety.nested_graphs(*subgraphs) for inner in g.node for n in inner.input}
    names.discard("")  # (an omitted input)
    return names


def _visible(name, scope):
    while scope is not None:
        if name in scope[0]:
            return True
        scope = scope[1]
    return False


def _call_function(*inputs, body, ctx):
    """A call of a model-local function: its body runs in a scope of its own."""
    return tuple(ctx.run(body, inputs, isolated=True))


# ---- the module ----
class OnnxModule(Module):
    """An imported ONNX graph. Parameters keep their ONNX names (`named_parameters()`, `state_dict()`);
    call it with Tensors or arrays by position or by input name; `to_onnx()` writes the graph back."""

    def __init__(self, proto, graph, params, buffers, kinds):
        super().__init__()
        object.__setattr__(self, "_proto", proto)
        object.__setattr__(self, "_graph", graph)
        object.__setattr__(self, "_kinds", kinds)  # initializer name -> "parameter" | "buffer" | "constant"
        for name, arr in params.items():
            self._parameters[name] = Parameter(arr)
        for name, arr in buffers.items():
            self.register_buffer(name, Tensor(arr))
        inits = set(kinds)
        tensors = [*self._parameters.values(), *self._buffers.values()]
        by_type = {t.dtype: t for t in reversed(tensors) if t.dtype.kind == "f"}  # (the first one of each type)
        object.__setattr__(self, "_probes", (tensors[0] if tensors else None, list(by_type.values())))
        object.__setattr__(self, "_imported_float", next(iter(by_type)) if len(by_type) == 1 else None)  # (mixed: None)
        object.__setattr__(self, "input_names", [n for n in graph.inputs if n not in inits])
        object.__setattr__(self, "output_names", list(graph.outputs))
        self.eval()

    @property
    def opset(self):
        return {o.domain or "ai.onnx": o.version for o in self._proto.opset_import}

    # ---- calling ----
    def forward(self, *args, **kwargs):
        g = self._graph
        if len(args) > len(self.input_names):
            raise OnnxImportError(f"the model takes {len(self.input_names)} inputs {self.input_names}, "
                                  f"got {len(args)}")
        self._follow_parameters()
        feeds = dict(self._parameters)  # _run_graph starts from g.consts; these replace constants of one name
        feeds.update(self._buffers)
        given = dict(zip(self.input_names, args))
        for name, x in kwargs.items():
            if name not in self.input_names and name not in self._kinds:
                raise OnnxImportError(f"the model has no input {name!r}; its inputs are {self.input_names}")
            if name in given:
                raise OnnxImportError(f"input {name!r} given twice (by position and by name)")
            given[name] = x
        missing = [n for n in self.input_names if n not in given]
        if missing:
            raise OnnxImportError(f"missing model inputs {missing}; the model takes {self.input_names}")
        for name, x in given.items():
            dtype = g.input_dtypes.get(name)
            if self._float_dtype is not None and dtype is not None and dtype.kind == "f":
                dtype = self._float_dtype  # (the module was cast: its float inputs are too)
            feeds[name] = _as_input(x, dtype, name, self._const_device)
            _check_declared_shape(f"input {name!r}", tuple(feeds[name].shape), g.input_shapes.get(name))
        outs = _run_model(self, g, feeds)
        return outs[0] if len(outs) == 1 else tuple(outs)

    # ---- devices and float type ----
    _const_device = "cpu"  # where the graph's constants live, and so its array inputs go (set by `to`)
    _float_dtype = None    # the float type of constants and float inputs after `to(dtype)`; None: as declared

    def to(self, *args, dtype=None, device=None):
        """Module.to, and the graph's constants (initializers, Constant values, subgraphs' and function bodies'
        constants) follow: to the device, so every node reads values on one; to a float type, so `.double()` runs
        the whole graph in float64, float inputs included (a Cast node in the graph still casts)."""
        super().to(*args, dtype=dtype, device=device)
        dtype, device = to_arguments(args, dtype, device)
        if device is not None:
            self._place_constants(device=backends.parse_device(device))
        if dtype is not None and as_dtype(dtype).kind == "f":
            self._place_constants(dtype=as_dtype(dtype))
        return self

    def _place_constants(self, device=None, dtype=None):
        if device is not None:
            object.__setattr__(self, "_const_device", device)
            _convert_constants(self._graph, lambda a: backends.to_device(a, device), set())
        if dtype is not None:
            object.__setattr__(self, "_float_dtype", dtype)
            _convert_constants(self._graph, lambda a: a.astype(dtype) if a.dtype.kind == "f" else a, set())

    def _follow_parameters(self):
        """Constants to the parameters' device and float type where they differ: a Module holding this one moves
        and casts its parameters with its own `to`, which does not call this one's. One tensor tells the device,
        one tensor of each float type the model was imported with tells whether a cast changed them."""
        probe, floats = self._probes
        if probe is not None and probe.device != self._const_device:
            self._place_constants(device=probe.device)
        now = {t.dtype for t in floats}
        if len(now) == 1 and (d := now.pop()) != (self._float_dtype or self._imported_float):
            self._place_constants(dtype=d)  # (all of one float type now, another than the constants')

    # ---- freezing ----
    def _select(self, names_or_predicate):
        if names_or_predicate is None:
            return [p for _, p in self.named_parameters()]
        if callable(names_or_predicate):
            return [p for n, p in self.named_parameters() if names_or_predicate(n)]
        names = [names_or_predicate] if isinstance(names_or_predicate, str) else list(names_or_predicate)
        unknown = [n for n in names if n not in self._parameters]
        if unknown:
            raise KeyError(f"no parameters named {unknown}; see named_parameters()")
        return [self._parameters[n] for n in names]

    def freeze(self, names_or_predicate=None):
        """Stop training the parameters named (a name, a list of names, or a predicate on names); all if None."""
        for p in self._select(names_or_predicate):
            p.requires_grad_(False)
        return self

    def unfreeze(self, names_or_predicate=None):
        for p in self._select(names_or_predicate):
            p.requires_grad_(True)
        return self

    # ---- writing back ----
    def to_onnx(self, f=None):
        """The original model (same nodes, names, opset, metadata) with the current parameter and buffer values.
        Writes it to `f` (a path or a binary file object) when given; returns the ModelProto."""
        model = onnx.ModelProto()
        model.CopyFrom(self._proto)
        state = dict(self._parameters)
        state.update(self._buffers)
        for g in safety.graph_protos(model):
            for t in getattr(g, "initializer", ()):
                value = state.get(t.name)
                if value is None:
                    if g is not model.graph:
                        continue  # a subgraph's constant: kept in the proto as it was read
                    value = self._graph.consts[t.name]
                arr = np.asarray(value.numpy(), dtype=safety.numpy_dtype(t.data_type))
                doc = t.doc_string
                t.CopyFrom(numpy_helper.from_array(arr, t.name))
                t.doc_string = doc
        if f is not None:
            if hasattr(f, "write"):
                f.write(model.SerializeToString())
            else:
                onnx.save(model, os.fspath(f))
        return model

    def extra_repr(self):
        n = sum(p.numel() for p in self.parameters())
        return (f"inputs={self.input_names}, outputs={self.output_names}, nodes={len(self._graph.steps)}, "
                f"parameters={n:,}")


def _check_declared_shape(what, shape, declared, declared_by="the model declares"):
    """A value's shape against the model's declared one (None: nothing declared; a None dim: any size)."""
    if declared is None:
        return
    if len(shape) != len(declared) or any(d is not None and d != n for d, n in zip(declared, shape)):
        shown = tuple("?" if d is None else d for d in declared)
        raise OnnxImportError(f"{what} has shape {shape}; {declared_by} {shown} (? is any size)")


def _as_input(x, dtype, name, device="cpu"):
    """A call's input as a Tensor: Tensors as given, arrays and lists on the module's device (those of dtypes
    only numpy holds stay on the CPU). Lists and scalars take the declared type, and floats or integers of another
    width are cast to it (integers where they fit); arrays of another kind (ints for a float input, floats or
    bools for an int one) are refused, as onnxruntime does: the graph's nodes would run on a type they were not
    written for."""
    if isinstance(x, Tensor):
        return x
    listed = isinstance(x, (list, tuple, bool, int, float))
    try:
        if listed and dtype is not None and dtype.kind in "biu" and not _integral(np.asarray(x)):
            raise TypeError("it holds values that are not whole numbers")
        arr = np.asarray(x, dtype=dtype) if listed else backends.as_array(np, x)  # numpy and cupy arrays as they are
    except (ValueError, TypeError, OverflowError) as e:  # a ragged nested list, a value out of the type's range
        raise OnnxImportError(f"input {name!r} is not an array{'' if dtype is None else f' of {dtype}'}: {e}") from e
    if dtype is not None and arr.dtype != dtype and arr.dtype.kind in "biuf":
        integers = arr.dtype.kind in "iu" and dtype.kind in "iu"
        if arr.dtype.kind != dtype.kind and not integers:
            raise OnnxImportError(f"input {name!r} is an array of {arr.dtype}; the model declares {dtype}")
        if integers and not np.can_cast(arr.dtype, dtype) and not safety.fits_range(arr, dtype):  # else cast
            raise OnnxImportError(f"input {name!r} ({arr.dtype}) holds values outside the declared {dtype}")
        if dtype.kind in "fiu":
            arr = arr.astype(dtype)
    on_host = device == "cpu" or not device_dtype(arr.dtype)  # float8, int4...: Cast reads them on the host
    return Tensor(arr if on_host else backends.to_device(arr, device))


def _integral(arr):
    """Whether a list's values are whole numbers (converting 1.7 to an integer type would truncate it)."""
    return arr.dtype.kind != "f" or bool(np.all(np.isfinite(arr) & (arr == np.round(arr))))


def _convert_constants(graph, convert, seen):
    """Replace a compiled graph's constants, its steps' tensor attributes and its subgraphs' by `convert` of their
    arrays (Parameters are the module's and move with it)."""
    if id(graph) in seen:
        return
    seen.add(id(graph))

    def moved(t):
        return t if isinstance(t, Parameter) else Tensor(convert(t.data))

    for name, t in graph.consts.items():
        graph.consts[name] = moved(t)
    for step in graph.steps:
        for key, value in step.attrs.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Graph):
                    _convert_constants(item, convert, seen)
            if isinstance(value, Tensor):
                step.attrs[key] = moved(value)
            elif isinstance(value, list) and value and all(isinstance(v, Tensor) for v in value):
                step.attrs[key] = [moved(v) for v in value]


def _initializer_kinds(graph):
    """Which top-level initializers are parameters, buffers or constants, from how the nodes use them."""
    inits = {t.name: t for t in graph.initializer}
    floating = {n for n, t in inits.items() if safety._NUMPY_DTYPES.get(t.data_type) in (np.float16, np.float32,
                                                                                          np.float64)}
    uses = collections.defaultdict(set)
    for node in graph.node:
        for i, n in enumerate(node.input):
            if n in floating:
                uses[n].add((node.op_type, i))
        if any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute):
            for n in floating:  # read from a subgraph maybe: keep them trainable
                uses[n].add(("subgraph", -1))
    kinds = {}
    for n in inits:
        if n not in floating:
            kinds[n] = "constant"
        elif uses[n] and uses[n] <= _BUFFER_SLOTS:
            kinds[n] = "buffer"
        elif uses[n] and uses[n] <= _CONSTANT_SLOTS:
            kinds[n] = "constant"
        else:
            kinds[n] = "parameter"
    return kinds


def import_onnx(model, *, base_dir=None):
    """An ONNX model (path, bytes or ModelProto) as an `OnnxModule`, ready for inference (eval mode) or
    training. External data is read only from `base_dir` (the model file's folder by default).

    Raises OnnxImportError for corrupt files, UnsafeModelError for refused requests and UnsupportedOpError
    listing every unsupported op at once."""
    load_rules()
    proto, base_dir = safety.load_model(model, base_dir)
    compiler = _Compiler(proto, base_dir)
    main = proto.graph
    kinds = _initializer_kinds(main)
    params, buffers = {}, {}
    graph = Graph(main.name)
    graph.inputs = [i.name for i in main.input]
    graph.outputs = [o.name for o in main.output]
    for vi in main.input:
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.elem_type in safety._NUMPY_DTYPES:
            graph.input_dtypes[vi.name] = safety.numpy_dtype(tt.elem_type)
        if vi.type.HasField("tensor_type") and tt.HasField("shape"):
            graph.input_shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                                                for d in tt.shape.dim)
    declared = {vi.name: vi.type.tensor_type for vi in main.input if vi.type.HasField("tensor_type")}
    for t in main.initializer:
        if t.name in declared:
            _check_default(t, declared[t.name], graph.input_shapes.get(t.name))
        arr = compiler.array(t, f"initializer {t.name!r}")
        table = {"parameter": params, "buffer": buffers}.get(kinds[t.name])
        if table is None:
            graph.consts[t.name] = Tensor(arr)
        else:
            table[t.name] = arr
        _drop_data(t)  # the proto keeps only names, types and dims: to_onnx fills in current values
    compiled = compiler.schedule(main, compiler.opsets, None, (), known=set(kinds))
    compiler.run_jobs()
    graph.steps = compiled.steps
    compiler.plan_frees()
    # attribute and subgraph tensors stored externally go inline in the kept proto, so that `to_onnx` does not
    # depend on the files next to the original model
    safety.inline_external(proto, lambda t: compiler.array(t, t.name))
    # (ONNX names are unique across a model and its subgraphs; a file that reuses a name keeps that one constant)
    trained = [name for name in compiler.sub_params if name not in kinds]
    for name in trained:  # the proto keeps their data: ops run by their function body read subgraph protos
        params[name], kinds[name] = compiler.sub_params[name], "parameter"
    # Cleared fields stay in protobuf's arena until the message goes: keep a fresh copy of what is left (names,
    # types, nodes), so the initializers' bytes read from the file are released here.
    slim = onnx.ModelProto()
    slim.CopyFrom(proto)
    module = OnnxModule(slim, graph, params, buffers, kinds)
    trained = set(trained)
    for g, name in compiler.sub_slots:  # the subgraphs read the module's Parameters, which train and move
        if name in trained:
            g.consts[name] = module._parameters[name]
    return module


def _check_default(t, tt, shape):
    """An initializer that gives a graph input its default value has the input's declared type and shape (None
    dims: any size): the nodes would otherwise read a value of another type or shape when the input is not
    given than when it is (onnxruntime refuses the model)."""
    kind = onnx.TensorProto.DataType.Name
    if tt.elem_type and t.data_type != tt.elem_type:
        raise OnnxImportError(f"initializer {t.name!r} is {kind(t.data_type)}; the graph input of that name is "
                              f"declared {kind(tt.elem_type)}")
    _check_declared_shape(f"initializer {t.name!r}", tuple(t.dims), shape,
                          "the graph input of that name is declared")


def _drop_data(t):
    for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data",
                  "string_data", "external_data"):
        t.ClearField(field)
    t.data_location = onnx.TensorProto.DEFAULT


