"""`autocompyute check MODEL.onnx [--inputs x.npz] [--rtol R] [--atol A]`: run the model in autocompyute and in
onnxruntime, print the comparison table; exit code 1 when an output is out of tolerance."""
import sys


def add_arguments(parser):
    parser.add_argument("model", help="an .onnx file")
    parser.add_argument("--inputs", help=".npz file with the inputs (by input name, or in order); random if absent")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")


def run(args):
    import numpy as np

    from .parity import check_parity
    inputs = None
    if args.inputs:
        with np.load(args.inputs, allow_pickle=False) as data:
            inputs = {k: data[k] for k in data.files}
    try:
        report = check_parity(args.model, inputs, rtol=args.rtol, atol=args.atol)
    except Exception as e:  # a file we cannot read or run: say so, exit 2
        print(f"autocompyute check: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.ok else 1
