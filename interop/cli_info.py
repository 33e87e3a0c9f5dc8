"""`autocompyute info MODEL.onnx`: what an ONNX model is (opset, producer, inputs and outputs with shapes, an
op histogram, the parameter count) and whether the importer supports all of it."""
import collections
import sys


def add_arguments(parser):
    parser.add_argument("model", help="an .onnx file")


def _shape(vi):
    if not vi.type.HasField("tensor_type"):
        return "(not a tensor)"
    from onnx import TensorProto
    tt = vi.type.tensor_type
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    elem = TensorProto.DataType.Name(tt.elem_type).lower() if tt.elem_type else "?"
    return f"{elem}[{', '.join(dims)}]" if tt.HasField("shape") else f"{elem}[unknown rank]"


def describe(model):
    """The report's lines for a ModelProto (what `info` prints)."""
    from .onnx import safety

    g = model.graph
    inits = {t.name for t in g.initializer}
    lines = [f"graph:     {g.name or '(unnamed)'}",
             f"producer:  {model.producer_name or '?'} {model.producer_version}".rstrip(),
             f"ir:        {model.ir_version}",
             "opset:     " + ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)]
    if model.functions:
        lines.append(f"functions: {len(model.functions)} model-local "
                     f"({', '.join(f.domain + '.' + f.name for f in model.functions[:5])})")
    lines.append("inputs:")
    lines += [f"  {vi.name}: {_shape(vi)}" for vi in g.input if vi.name not in inits] or ["  (none)"]
    lines.append("outputs:")
    lines += [f"  {vi.name}: {_shape(vi)}" for vi in g.output] or ["  (none)"]
    n_float = n_other = 0
    for t in g.initializer:
        n = 1
        for d in t.dims:
            n *= max(int(d), 0)
        is_float = safety._NUMPY_DTYPES.get(t.data_type) in (safety.np.float16, safety.np.float32, safety.np.float64)
        if is_float:
            n_float += n
        else:
            n_other += n
    lines.append(f"parameters: {n_float:,} floating-point values in {sum(1 for _ in g.initializer)} initializers "
                 f"(+ {n_other:,} integer constant values)")
    histogram = collections.Counter((n.domain or "", n.op_type) for g in safety.graph_protos(model) for n in g.node)
    lines.append(f"ops ({sum(histogram.values())} nodes):")
    lines += [f"  {count:6d}  {op}" + (f"  [{domain}]" if domain else "")
              for (domain, op), count in sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0][1]))]
    return lines


def run(args):
    from .errors import OnnxImportError, UnsupportedOpError
    from .importer import import_onnx
    from .onnx import safety

    try:
        model, base_dir = safety.load_model(args.model)
    except OnnxImportError as e:
        print(f"autocompyute info: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print("\n".join(describe(model)))
    try:
        import_onnx(model, base_dir=base_dir)
    except UnsupportedOpError as e:
        print("support: NOT SUPPORTED")
        print(str(e))
        return 1
    except OnnxImportError as e:
        print(f"support: cannot import: {type(e).__name__}: {e}")
        return 1
    print("support: every op is supported; the model imports")
    return 0
