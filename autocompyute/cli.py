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
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    return args._run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
