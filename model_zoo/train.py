"""`autocompyute train MODEL`: train a model of the zoo on the bundled task that fits it.

- digits (mlp, lenet, resnet, mobilenetv2): 10-way classification of the 8x8 digits; reports test accuracy;
- chars (gpt, lstm, gru): next-character prediction on the documentation corpus; reports validation loss
  (nats per character) and prints a short sample;
- masked_chars (bert): masked-character prediction (15% of positions, BERT's 80/10/10 rule); reports the
  accuracy on masked positions of the validation text.

Adam with a cosine learning-rate schedule; a tqdm progress bar per epoch and one line per epoch; the model and
optimizer state go to DIR/MODEL.safetensors (autocompyute.checkpoint) with the config and history as metadata.
"""
import dataclasses
import math
import os
import time
from dataclasses import dataclass

import numpy as np

import autocompyute as ac
from autocompyute import checkpoint, optim
from autocompyute.data import DataLoader, TensorDataset
from autocompyute.nn import functional as F

from . import MODELS, bert, gpt, gru, lenet, lstm, mlp, mobilenetv2, resnet
from . import data as zoo_data


@dataclass
class Recipe:
    task: str            # "digits", "chars" or "masked_chars"
    config: object       # the model's Config for this task
    epochs: int
    lr: float
    batch_size: int
    seq_len: int = 0     # the window length of the character tasks


RECIPES = {
    "mlp": Recipe("digits", mlp.Config(in_features=64, hidden=(128, 128)), epochs=30, lr=2e-3, batch_size=32),
    "lenet": Recipe("digits", lenet.DIGITS, epochs=20, lr=2e-3, batch_size=32),
    "resnet": Recipe("digits", resnet.DIGITS, epochs=15, lr=2e-3, batch_size=32),
    "mobilenetv2": Recipe("digits", mobilenetv2.DIGITS, epochs=15, lr=2e-3, batch_size=32),
    # an epoch of the character tasks: as many random windows as the training text has characters
    "lstm": Recipe("chars", lstm.CHARS, epochs=30, lr=3e-3, batch_size=32, seq_len=64),
    "gru": Recipe("chars", gru.CHARS, epochs=30, lr=3e-3, batch_size=32, seq_len=64),
    "gpt": Recipe("chars", gpt.Config(), epochs=20, lr=2e-3, batch_size=32, seq_len=64),
    # masked characters: attending to the neighbours is learnt only after a long plateau at unigram frequencies
    # (about 24% right until epoch 50-60, 28% at 80; about 100 s)
    "bert": Recipe("masked_chars", bert.Config(), epochs=80, lr=1e-3, batch_size=32, seq_len=64),
}


def _progress(iterable, total, desc, enabled):
    """A tqdm bar when tqdm is installed and wanted, else the iterable itself."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def _say(line, progress):
    if progress:
        try:
            from tqdm import tqdm
            tqdm.write(line)
            return
        except ImportError:
            pass
    print(line, flush=True)


def fit(model, batches, loss_fn, epochs, lr, steps_per_epoch, evaluate=None, progress=True, desc="train",
        max_steps=None):
    """Train `model` with Adam and a cosine schedule. `batches(epoch)` yields one epoch's batches,
    `loss_fn(model, batch)` returns the loss Tensor, `evaluate(model)` a dict of metrics after each epoch;
    `max_steps` cuts each epoch short (a quick try). Returns (history: one dict per epoch, the optimizer)."""
    if max_steps:
        steps_per_epoch = min(steps_per_epoch, max_steps)
    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total, n = 0.0, 0
        bar = _progress(batches(epoch), steps_per_epoch, f"{desc} {epoch}/{epochs}", progress)
        for step, batch in enumerate(bar):
            if step == steps_per_epoch:
                break
            loss = loss_fn(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()
            total, n = total + value, n + 1
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        schedule.step()
        model.eval()
        with ac.no_grad():
            metrics = evaluate(model) if evaluate else {}
        row = {"epoch": epoch, "loss": total / max(n, 1), **metrics, "seconds": time.perf_counter() - start}
        history.append(row)
        _say(f"{desc} epoch {epoch:3d}/{epochs}  " + "  ".join(
            f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")) + f"  ({row['seconds']:.1f}s)",
            progress)
    return history, opt


# ---- the digits task ----
def accuracy(model, x, y, batch_size=512):
    """Fraction of (x, y) that `model` (in its current mode) classifies right."""
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = model(ac.tensor(x[i:i + batch_size]))
        correct += int((logits.argmax(1).numpy() == y[i:i + batch_size]).sum())
    return correct / len(x)


def fit_digits(model, epochs, lr, batch_size, seed=0, progress=True, desc="train", max_steps=None):
    """Train a classifier of (B, 1, 8, 8) images on the digits; test accuracy after each epoch."""
    x, y = zoo_data.load_digits("train", seed=seed)
    xt, yt = zoo_data.load_digits("test", seed=seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)

    def loss_fn(model, batch):
        images, labels = batch
        return F.cross_entropy(model(images), labels)     # (B, 10) logits vs (B,)

    def evaluate(model):
        return {"train_accuracy": accuracy(model, x, y), "test_accuracy": accuracy(model, xt, yt)}

    return fit(model, lambda epoch: loader, loss_fn, epochs, lr, len(loader), evaluate, progress, desc, max_steps)


# ---- the character tasks ----
def _char_steps(tokens, batch_size, seq_len):
    return max(1, len(tokens) // (batch_size * seq_len))


def fit_chars(model, epochs, lr, batch_size, seq_len, seed=0, progress=True, desc="train", max_steps=None):
    """Next-character prediction: (B, T) windows -> (B, T, 256) logits against the windows shifted by one."""
    tokens, val = zoo_data.load_corpus_tokens("train"), zoo_data.load_corpus_tokens("test")
    steps = _char_steps(tokens, batch_size, seq_len)
    val_batches = list(zoo_data.char_batches(val, batch_size, seq_len, 4, seed=12345))

    def loss_fn(model, batch):
        x, y = batch
        logits = model(ac.tensor(x))                               # (B, T, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ac.tensor(y.reshape(-1)))

    def evaluate(model):
        return {"val_loss": float(np.mean([loss_fn(model, b).item() for b in val_batches]))}

    def batches(epoch):
        return zoo_data.char_batches(tokens, batch_size, seq_len, steps, seed=seed * 1000 + epoch)

    return fit(model, batches, loss_fn, epochs, lr, steps, evaluate, progress, desc, max_steps)


def fit_masked_chars(model, epochs, lr, batch_size, seq_len, seed=0, progress=True, desc="train", max_steps=None):
    """Masked-character prediction: cross-entropy on the masked positions only (ignore_index elsewhere)."""
    tokens, val = zoo_data.load_corpus_tokens("train"), zoo_data.load_corpus_tokens("test")
    steps = _char_steps(tokens, batch_size, seq_len)
    rng = np.random.default_rng(seed)
    val_rng = np.random.default_rng(12345)
    val_batches = [zoo_data.mask_chars(x, val_rng) for x, _ in zoo_data.char_batches(val, batch_size, seq_len, 4,
                                                                                       seed=12345)]

    def logits_and_targets(model, batch):
        inputs, targets = batch
        logits = model(ac.tensor(inputs))                          # (B, T, V)
        return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)

    def loss_fn(model, batch):
        logits, targets = logits_and_targets(model, batch)
        return F.cross_entropy(logits, ac.tensor(targets), ignore_index=zoo_data.IGNORE_INDEX)

    def evaluate(model):
        right = total = 0
        for batch in val_batches:
            logits, targets = logits_and_targets(model, batch)
            chosen = targets != zoo_data.IGNORE_INDEX
            right += int((logits.argmax(1).numpy()[chosen] == targets[chosen]).sum())
            total += int(chosen.sum())
        return {"masked_accuracy": right / total}

    def batches(epoch):
        for x, _ in zoo_data.char_batches(tokens, batch_size, seq_len, steps, seed=seed * 1000 + epoch):
            yield zoo_data.mask_chars(x, rng)

    return fit(model, batches, loss_fn, epochs, lr, steps, evaluate, progress, desc, max_steps)


def sample(model, prompt, length, seq_len, temperature=0.8, seed=0):
    """Continue `prompt` by `length` characters, sampling from a causal character model (a window of seq_len)."""
    rng = np.random.default_rng(seed)
    tokens = list(zoo_data.encode(prompt))
    model.eval()
    with ac.no_grad():
        for _ in range(length):
            window = np.array(tokens[-seq_len:], dtype=np.int64)[None]          # (1, T)
            logits = model(ac.tensor(window)).numpy()[0, -1] / temperature     # (V,)
            p = np.exp(logits - logits.max())
            tokens.append(int(rng.choice(len(p), p=p / p.sum())))
    return zoo_data.decode(tokens)


# ---- the command ----
def add_arguments(parser):
    parser.add_argument("model", choices=sorted(RECIPES), help="a model of the zoo")
    parser.add_argument("--epochs", type=int, help="default: the model's recipe")
    parser.add_argument("--lr", type=float, help="Adam's learning rate (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="default: the recipe's")
    parser.add_argument("--out", default=os.path.join("runs", "train"), help="folder for MODEL.safetensors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, help="at most this many batches per epoch (a quick try)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def train_model(name, epochs=None, lr=None, batch_size=None, seed=0, progress=True, max_steps=None, announce=False):
    """Build the zoo model `name` from its recipe's config and train it (`announce`: say what is trained first).
    Returns (model, history, optimizer, recipe)."""
    recipe = RECIPES[name]
    recipe = dataclasses.replace(recipe, epochs=epochs or recipe.epochs, lr=lr or recipe.lr,
                                 batch_size=batch_size or recipe.batch_size)
    ac.manual_seed(seed)
    model = MODELS[name].build(recipe.config)
    if announce:
        params = sum(p.numel() for p in model.parameters())
        print(f"training {name} ({params:,} parameters) on the {recipe.task} task")
    common = dict(epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size, seed=seed, progress=progress,
                  desc=name, max_steps=max_steps)
    if recipe.task == "digits":
        history, opt = fit_digits(model, **common)
    elif recipe.task == "chars":
        history, opt = fit_chars(model, seq_len=recipe.seq_len, **common)
    else:
        history, opt = fit_masked_chars(model, seq_len=recipe.seq_len, **common)
    return model, history, opt, recipe


def run(args):
    if args.epochs is not None and args.epochs < 1:
        raise SystemExit("autocompyute train: --epochs must be >= 1")
    model, history, opt, recipe = train_model(args.model, args.epochs, args.lr, args.batch_size, args.seed,
                                              progress=not args.no_progress, max_steps=args.max_steps,
                                              announce=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.model}.safetensors")
    checkpoint.save(model, path, optimizer=opt, metadata={
        "model": args.model, "task": recipe.task, "config": dataclasses.asdict(recipe.config),
        "epochs": recipe.epochs, "lr": recipe.lr, "batch_size": recipe.batch_size, "seed": args.seed,
        "history": history})
    last = history[-1]
    summary = "  ".join(f"{k} {v:.4f}" for k, v in last.items() if k not in ("epoch", "seconds", "loss"))
    print(f"final: loss {last['loss']:.4f}  {summary}")
    if recipe.task == "chars":
        text = sample(model, "The ", 120, recipe.seq_len, seed=args.seed)
        print("sample: " + repr(text))
    if not all(math.isfinite(v) for v in last.values()):
        print("autocompyute train: the loss diverged")
        return 1
    print(f"wrote {path}")
    return 0
