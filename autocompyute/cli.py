"""The `autocompyute` console command. Each subcommand lives in its own module, imported only when used, so
the engine never imports onnx: the module defines `add_arguments(parser)` and `run(args) -> exit code`."""
import argparse
import importlib
import sys

SUBCOMMANDS = {
    "demo": ("model_zoo.demo", "train the CNN on the bundled digits, export, check and fine-tune it"),
    "train": ("model_zoo.train", "train a model of the zoo"),
    "export": ("interop.cli_export", "export a model of the zoo to ONNX"),
    "check": ("interop.cli_check", "compare an ONNX model in autocompyute and onnxruntime, node by node"),
    "info": ("interop.cli_info", "describe an ONNX model: opset, inputs, outputs, ops, parameters, support"),
    "finetune": ("interop.cli_finetune", "fine-tune an ONNX model on an .npz data set and export it again"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="autocompyute", description="Train, export, check, import and fine-tune "
                                     "models: autocompyute and ONNX, both ways.")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="give the engine N intra-op threads (ac.set_num_threads: convolution, pooling, ReLU and "
                        "Linear split over them, numpy's BLAS on one thread); by default numpy's BLAS threads only")
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        from .parallel import set_num_threads
        set_num_threads(args.threads)
    return args._run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
