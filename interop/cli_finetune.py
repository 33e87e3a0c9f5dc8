"""`autocompyute finetune MODEL.onnx --data D.npz --loss {mse,cross_entropy} --epochs N -o OUT.onnx`:
import an ONNX model, train its parameters on the arrays of an .npz file, write the same graph with the new
weights, and check OUT against onnxruntime.

The .npz holds the inputs under the model's input names (or `x` for a single-input model) and the targets
under `y`: values of the output's shape for mse, class indices for cross_entropy.
"""
import sys


def add_arguments(parser):
    parser.add_argument("model", help="an .onnx file")
    parser.add_argument("--data", required=True, help=".npz with the inputs (by input name, or x) and targets (y)")
    parser.add_argument("--loss", choices=("mse", "cross_entropy"), default="mse")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--freeze", action="append", default=[], metavar="TEXT",
                        help="freeze the parameters whose ONNX name contains TEXT (repeatable)")
    parser.add_argument("--eval-mode", action="store_true",
                        help="train with inference behaviour (BatchNorm running statistics, no dropout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True, help="where to write the fine-tuned .onnx")


def load_data(path, input_names):
    """(inputs by name, targets) from an .npz file, or ValueError saying what is missing."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if "y" not in arrays:
        raise ValueError(f"{path}: no targets: expected an array named 'y' (found {sorted(arrays)})")
    if all(n in arrays for n in input_names):
        inputs = {n: arrays[n] for n in input_names}
    elif len(input_names) == 1 and "x" in arrays:
        inputs = {input_names[0]: arrays["x"]}
    else:
        raise ValueError(f"{path}: expected inputs named {input_names} (or 'x' for one input), found {sorted(arrays)}")
    n = len(arrays["y"])
    for name, a in inputs.items():
        if len(a) != n:
            raise ValueError(f"{path}: input {name!r} has {len(a)} samples, the targets {n}")
    return inputs, arrays["y"]


def run(args):
    import numpy as np
    from tqdm import tqdm

    import autocompyute as ac
    import autocompyute.functional as F
    from autocompyute import optim

    from .errors import OnnxImportError
    from .importer import import_onnx

    try:
        module = import_onnx(args.model)
        inputs, targets = load_data(args.data, module.input_names)
    except (OnnxImportError, ValueError, OSError) as e:
        print(f"autocompyute finetune: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    ac.manual_seed(args.seed)
    for text in args.freeze:
        module.freeze(lambda name, t=text: t in name)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        print("autocompyute finetune: no trainable parameters (all frozen?)", file=sys.stderr)
        return 2
    opt = optim.Adam(params, lr=args.lr) if args.optimizer == "adam" else optim.SGD(params, lr=args.lr)
    module.train(not args.eval_mode)
    n = len(targets)
    rng = np.random.default_rng(args.seed)
    batches = max(1, -(-n // args.batch_size))
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        bar = tqdm(range(batches), desc=f"epoch {epoch}/{args.epochs}", unit="batch", leave=False, file=sys.stderr)
        for b in bar:
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            out = module(**{k: v[idx] for k, v in inputs.items()})
            out = out[0] if isinstance(out, tuple) else out
            y = ac.tensor(targets[idx])
            if args.loss == "mse":
                loss = F.mse_loss(out, y.to(out.dtype))
            else:
                loss = F.cross_entropy(out, y.long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.4f}")
        print(f"epoch {epoch}: loss {total / n:.6f}")
    module.eval()
    module.to_onnx(args.output)
    print(f"wrote {args.output}")
    return _check(args.output, {k: v[:min(n, args.batch_size)] for k, v in inputs.items()})


def _check(path, feeds):
    """OUT against onnxruntime on a batch of the data; exit code 1 when they disagree."""
    from .parity import check_parity
    report = check_parity(path, feeds)
    print(report)
    return 0 if report.ok else 1
