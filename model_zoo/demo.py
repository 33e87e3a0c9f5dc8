"""`make demo` / `autocompyute demo`: the project's main job, as a list of steps run in order.

1. train: the LeNet-style CNN (lenet.DIGITS) on the bundled 8x8 digits, with a progress bar; reports test
   accuracy, which must reach --min-accuracy (95%);
2. checkpoint: model and optimizer state to OUT/lenet_digits.safetensors (autocompyute.checkpoint);
3. plot: loss and accuracy per epoch to OUT/training.png (skipped, with a note, without matplotlib);
4. export: the trained CNN to OUT/lenet_digits.onnx (batch dimension symbolic);
5. parity: the exported file in onnxruntime against autocompyute on every test image, node by node, and both
   runtimes' inference latency on the test set;
6. finetune: the exported file imported back as a trainable module, fine-tuned on a changed task (the digits
   with Gaussian noise), exported again to OUT/lenet_digits_noisy.onnx and checked against onnxruntime.

Every step is a function `step(demo)` reading and filling the shared `Demo` record.
"""
import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import checkpoint
from autocompyute.data import DataLoader, TensorDataset

from . import data as zoo_data
from . import lenet
from .train import accuracy, fit, fit_digits

MODEL_NAME = "lenet"


@dataclass
class Demo:
    """What the steps share: the arguments, the output folder, the trained model and what each step reports."""
    args: object
    out: str
    config: object = None
    model: object = None
    optimizer: object = None
    history: list = field(default_factory=list)
    files: dict = field(default_factory=dict)     # what was written: label -> path
    results: dict = field(default_factory=dict)   # what to report at the end: label -> value
    ok: bool = True                               # False once a step's check fails

    def path(self, name):
        return os.path.join(self.out, name)


def train_cnn(epochs=20, lr=2e-3, batch_size=32, seed=0, progress=True, config=None):
    """Train the digits CNN; returns (model in eval mode, history: one dict per epoch, optimizer)."""
    from autocompyute import manual_seed
    manual_seed(seed)
    model = lenet.build(config or lenet.DIGITS)
    history, optimizer = fit_digits(model, epochs, lr, batch_size, seed=seed, progress=progress, desc="demo")
    return model.eval(), history, optimizer


# ---- the steps ----
def step_train(demo):
    a = demo.args
    demo.config = lenet.DIGITS
    demo.model, demo.history, demo.optimizer = train_cnn(a.epochs, a.lr, a.batch_size, a.seed,
                                                         progress=not a.no_progress, config=demo.config)
    acc = demo.history[-1]["test_accuracy"]
    demo.results["test accuracy"] = f"{acc:.2%} (target {a.min_accuracy:.0%})"
    if acc < a.min_accuracy:
        demo.ok = False
        print(f"demo: test accuracy {acc:.2%} is below the target {a.min_accuracy:.0%}")


def step_checkpoint(demo):
    path = demo.path(f"{MODEL_NAME}_digits.safetensors")
    last = demo.history[-1]
    checkpoint.save(demo.model, path, optimizer=demo.optimizer, metadata={
        "model": MODEL_NAME, "config": dataclasses.asdict(demo.config), "task": "digits",
        "epochs": len(demo.history), "test_accuracy": last["test_accuracy"], "history": demo.history})
    demo.files["checkpoint"] = path


def step_plot(demo):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print("demo: matplotlib is not installed, no plot (pip install matplotlib)")
        return
    path = demo.path("training.png")
    epochs = [row["epoch"] for row in demo.history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [row["loss"] for row in demo.history], marker="o")
    left.set(title="training loss", xlabel="epoch", ylabel="cross-entropy", yscale="log")
    right.plot(epochs, [row["train_accuracy"] for row in demo.history], marker="o", label="train")
    right.plot(epochs, [row["test_accuracy"] for row in demo.history], marker="o", label="test")
    right.axhline(demo.args.min_accuracy, color="gray", linestyle="--", label="target")
    right.set(title="accuracy", xlabel="epoch", ylim=(min(0.8, right.get_ylim()[0]), 1.0))
    right.legend(loc="lower right")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("LeNet-style CNN on the 8x8 digits (autocompyute)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    demo.files["plot"] = path


def step_export(demo):
    from interop import export_onnx
    path = demo.path(f"{MODEL_NAME}_digits.onnx")
    images, _ = zoo_data.load_digits("test", seed=demo.args.seed)
    export_onnx(demo.model, (ac.tensor(images[:4]),), path, input_names=["image"], output_names=["logits"])
    demo.files["onnx"] = path


def _check(demo, path, images, label):
    """Parity of the ONNX file at `path` against onnxruntime on `images`; a mismatch fails the demo."""
    from interop import check_parity
    report = check_parity(path, {"image": images})
    demo.results[f"{label}: max abs error vs onnxruntime"] = (
        f"{report.max_abs():.2e} over {len(report.values)} values ({'OK' if report.ok else 'MISMATCH'})")
    if not report.ok:
        demo.ok = False
        print(report)


def _median_ms(fn, repeats=20):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def step_parity(demo):
    import onnxruntime as ort
    images, _ = zoo_data.load_digits("test", seed=demo.args.seed)
    _check(demo, demo.files["onnx"], images, "exported CNN")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(demo.files["onnx"], options, providers=["CPUExecutionProvider"])
    x = ac.tensor(images)
    with ac.no_grad():
        ours = _median_ms(lambda: demo.model(x))
    time.sleep(0.5)  # OpenBLAS's idle threads spin for about 0.1 s after our last GEMM and would slow onnxruntime
    theirs = _median_ms(lambda: session.run(None, {"image": images}))
    demo.results[f"inference on {len(images)} test images"] = (
        f"autocompyute {ours:.2f} ms, onnxruntime {theirs:.2f} ms ({ours / theirs:.2f}x)")


def noisy_digits(split, seed, sigma=0.35):
    """The changed task for fine-tuning: the digits with Gaussian pixel noise (a fixed draw per split)."""
    images, labels = zoo_data.load_digits(split, seed=seed)
    rng = np.random.default_rng(1000 + (split == "test"))
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 1).astype(np.float32), labels


def step_finetune(demo):
    from interop import import_onnx
    a = demo.args
    model = import_onnx(demo.files["onnx"])  # every float initializer is now a trainable Parameter
    x, y = noisy_digits("train", a.seed)
    xt, yt = noisy_digits("test", a.seed)
    before = accuracy(model.eval(), xt, yt)
    loader = DataLoader(TensorDataset(x, y), batch_size=a.batch_size, shuffle=True, seed=a.seed)
    fit(model, lambda epoch: loader, lambda m, batch: F.cross_entropy(m(batch[0]), batch[1]),
        a.finetune_epochs, a.lr / 2, len(loader), progress=not a.no_progress, desc="finetune")
    after = accuracy(model.eval(), xt, yt)
    demo.results["noisy test digits, imported CNN"] = f"accuracy {before:.2%} before fine-tuning, {after:.2%} after"
    if after <= before:
        demo.ok = False
        print("demo: fine-tuning did not improve the accuracy on the noisy digits")
    path = demo.path(f"{MODEL_NAME}_digits_noisy.onnx")
    model.to_onnx(path)
    demo.files["fine-tuned onnx"] = path
    _check(demo, path, xt, "fine-tuned CNN")


STEPS = [
    ("train", step_train),
    ("checkpoint", step_checkpoint),
    ("plot", step_plot),
    ("export", step_export),
    ("parity", step_parity),
    ("finetune", step_finetune),
]


# ---- the command ----
def add_arguments(parser):
    parser.add_argument("--out", default=os.path.join("runs", "demo"), help="output folder (default runs/demo)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=0.95, help="the test accuracy the CNN must reach")
    parser.add_argument("--finetune-epochs", type=int, default=10, help="epochs of fine-tuning on the noisy digits")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args):
    os.makedirs(args.out, exist_ok=True)
    demo = Demo(args=args, out=args.out)
    start = time.perf_counter()
    for name, step in STEPS:
        print(f"== {name}", flush=True)
        step(demo)
    print(f"== done in {time.perf_counter() - start:.1f}s")
    for label, value in demo.results.items():
        print(f"{label}: {value}")
    for label, path in demo.files.items():
        print(f"{label}: {path}")
    return 0 if demo.ok else 1
