"""`make demo` / `autocompyute demo`: the project's main job, as a list of steps run in order.

1. train: the LeNet-style CNN (lenet.DIGITS) on the bundled 8x8 digits, with a progress bar; reports test
   accuracy, which must reach --min-accuracy (95%);
2. checkpoint: model and optimizer state to OUT/lenet_digits.safetensors (autocompyute.checkpoint);
3. plot: loss and accuracy per epoch to OUT/training.png (skipped, with a note, without matplotlib).

Every step is a function `step(demo)` reading and filling the shared `Demo` record; later steps (export, parity
with onnxruntime, fine-tuning) are appended to STEPS.
"""
import dataclasses
import os
import time
from dataclasses import dataclass, field

from autocompyute import checkpoint

from . import lenet
from .train import fit_digits

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


STEPS = [
    ("train", step_train),
    ("checkpoint", step_checkpoint),
    ("plot", step_plot),
]


# ---- the command ----
def add_arguments(parser):
    parser.add_argument("--out", default=os.path.join("runs", "demo"), help="output folder (default runs/demo)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=0.95, help="the test accuracy the CNN must reach")
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
