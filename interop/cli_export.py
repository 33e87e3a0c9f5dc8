"""`autocompyute export ZOO_MODEL [--checkpoint C] -o model.onnx`: build a model of the zoo (optionally with
trained weights from a checkpoint), export it to ONNX with a symbolic batch and check it against onnxruntime."""
import importlib
import sys


def add_arguments(parser):
    parser.add_argument("model", help="a model of the zoo (a module name in model_zoo/, e.g. mlp, lenet, resnet, gpt, lstm)")
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    parser.add_argument("--checkpoint", help="weights to load first (a checkpoint written by autocompyute)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the newest onnxruntime runs)")
    parser.add_argument("--static-batch", action="store_true", help="keep the example's batch size")
    parser.add_argument("--external-data", action="store_true", help="store the weights in <output>.data")
    parser.add_argument("--no-check", action="store_true", help="skip the parity check against onnxruntime")


def build_zoo_model(name):
    """(model, example inputs as a tuple) for the zoo module `name`, built from its default config."""
    try:
        mod = importlib.import_module(f"model_zoo.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"model_zoo.{name}":
            raise
        raise SystemExit(f"autocompyute export: no model {name!r} in the zoo") from None
    config_cls = getattr(mod, "Config", None)
    model = mod.build(config_cls()) if config_cls is not None else mod.build()
    inputs = mod.example_inputs()
    return model, inputs if isinstance(inputs, tuple) else (inputs,)


def run(args):
    from autocompyute import checkpoint

    from .export import save, trace_export
    from .parity import check_trace
    model, inputs = build_zoo_model(args.model)
    if args.checkpoint:
        checkpoint.load_into(model, args.checkpoint)
    model.eval()
    proto, info = trace_export(model, inputs, opset=args.opset, dynamic_batch=not args.static_batch)
    save(proto, args.output, external_data=args.external_data or None)
    print(f"wrote {args.output}")
    if args.no_check:
        return 0
    report = check_trace(proto, info)  # the exported graph, node by node against onnxruntime
    print(report)
    if not report.ok:
        print("autocompyute export: the exported model disagrees with onnxruntime", file=sys.stderr)
        return 1
    return 0
