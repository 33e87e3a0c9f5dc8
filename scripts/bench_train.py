"""Training-step speed and memory: autocompyute against PyTorch CPU, side by side.

    python scripts/bench_train.py [--steps 20] [--warmup 3] [--rounds 3] [--threads 2] [--models mlp cnn gpt lstm]
    python scripts/bench_train.py --malloc-tuned     # both frameworks with glibc's allocator tuned as the engine does
    python scripts/bench_train.py --profile gpt      # where autocompyute's step goes: per Op, then cProfile
    python scripts/bench_train.py --blas-threads     # ours in its default threading: numpy's BLAS threads only

One step is zero_grad, forward, cross-entropy loss, backward and an Adam update. Models and shapes:
MLP 784-512-512-10 at batch 128; the LeNet CNN on 1x28x28 at batch 64 (conv3x3 1->32, pool, conv3x3 32->64, pool,
linear 128, linear 10); the GPT decoder (vocab 256, d 128, 4 heads, 2 layers) on sequences of 64 at batch 16;
the LSTM (input 32, hidden 128, last step -> linear 10) on sequences of 50 at batch 32. autocompyute runs the
model_zoo models; the PyTorch models are written here with the same shapes (torch is needed only for its column:
`pip install torch==2.13.0`).

Fairness: every measurement runs in a fresh subprocess with --threads threads for each framework, set through each
one's own thread setting: torch.set_num_threads for PyTorch, AUTOCOMPYUTE_NUM_THREADS (= ac.set_num_threads) for
autocompyute, and OMP/OpenBLAS/MKL threads for both. autocompyute then splits convolution, pooling, ReLU and
Linear over its threads itself and puts numpy's OpenBLAS on one (except in recurrences; see
autocompyute/parallel.py). --blas-threads times ours in its default instead, where set_num_threads is not called:
numpy's BLAS threads for GEMMs, everything else on one thread (faster for GEMM-bound models, slower for CNNs).
Time: the median of --steps steps after --warmup steps; the two frameworks alternate --rounds times and the best
median of each counts (on a shared machine other processes slow down whichever round they overlap).
Memory: in a separate run of 4 steps, the peak resident set size minus the resident size just before the first
step (model, inputs and imports loaded; the peak is reset through /proc/self/clear_refs), so it counts
activations, gradients, optimizer state and workspace in both frameworks. These runs fix glibc's mmap threshold
at 64 KiB (MALLOC_MMAP_THRESHOLD_) so that freed arrays go back to the system at once: the peak is then the
memory in use, not what the allocator keeps cached (with the default, RSS creeps up step after step); the
engine's own allocator tuning (autocompyute.backends.tune_allocator, which keeps freed memory for reuse) is off in
these runs for the same reason.
Targets (autocompyute / PyTorch time): MLP <= 1.0, CNN <= 1.5, GPT <= 1.5, LSTM <= 2.0; memory below PyTorch's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _rss import reset_peak, status_bytes  # (scripts/ is on sys.path when a script runs)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = ("mlp", "cnn", "gpt", "lstm")
TARGETS = {"mlp": 1.0, "cnn": 1.5, "gpt": 1.5, "lstm": 2.0}
SHAPES = {"mlp": "784-512-512-10, batch 128", "cnn": "1x28x28, batch 64", "gpt": "T 64, d 128, batch 16",
          "lstm": "T 50, hidden 128, batch 32"}


def malloc_tuned():
    """The engine's glibc settings (autocompyute.backends.tune_allocator) as environment variables: freed memory
    kept for reuse instead of returned to the system after every large free (each re-use of returned memory
    page-faults again); --malloc-tuned applies them to both frameworks' timing runs."""
    sys.path.insert(0, ROOT)
    from autocompyute.backends import MMAP_THRESHOLD, TRIM_THRESHOLD
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


# ---- the shared inputs (numpy, the same in both frameworks) ----
def make_inputs(name, seed=0):
    """(input array, target array) of the benchmark's shape for `name`."""
    import numpy as np
    rng = np.random.default_rng(seed)
    if name == "mlp":
        return rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    if name == "cnn":
        return rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)
    if name == "gpt":
        idx = rng.integers(0, 256, (16, 65))
        return idx[:, :-1].copy(), idx[:, 1:].copy()                          # (B, T) tokens, next tokens
    if name == "lstm":
        return rng.standard_normal((32, 50, 32)).astype(np.float32), rng.integers(0, 10, 32)
    raise ValueError(name)


def make_step(model, opt, F, x, y):
    """One training step, the same calls in both frameworks: zero_grad (gradients set to None, the default in
    both), forward, cross-entropy over the flattened outputs, backward, optimizer step. Returns the loss."""
    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return step


# ---- autocompyute: the model zoo ----
def ours(name):
    """A function doing one training step of the zoo model `name`."""
    sys.path.insert(0, ROOT)
    import autocompyute as ac
    from autocompyute import optim
    from autocompyute.nn import functional as F
    from model_zoo import gpt, lenet, lstm, mlp

    ac.manual_seed(0)
    model = {"mlp": mlp, "cnn": lenet, "gpt": gpt, "lstm": lstm}[name].build()
    x, y = make_inputs(name)
    x, y = ac.tensor(x), ac.tensor(y.astype("int64"))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    return make_step(model, opt, F, x, y)


# ---- PyTorch: the same models, written here ----
def torch_model(name, threads):
    """The benchmark's model `name` in PyTorch (also bench_infer's PyTorch column), torch on `threads` threads."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, d=128, heads=4):
            super().__init__()
            self.heads = heads
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):  # (B, T, C)
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.reshape(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, vocab=256, d=128, layers=2, block=64):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.blocks = nn.ModuleList([Block(d) for _ in range(layers)])
            self.ln_f, self.lm_head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

        def forward(self, idx):  # (B, T) -> (B, T, vocab)
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.lm_head(self.ln_f(x))

    class LSTMNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.LSTM(32, 128, batch_first=True), nn.Linear(128, 10)

        def forward(self, x):  # (B, T, 32) -> (B, 10)
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    elif name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    elif name == "gpt":
        model = GPT()
    else:
        model = LSTMNet()
    return model


def theirs(name, threads):
    import torch
    import torch.nn.functional as F

    model = torch_model(name, threads)
    x, y = make_inputs(name)
    x, y = torch.from_numpy(x), torch.from_numpy(y.astype("int64"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return make_step(model, opt, F, x, y)


# ---- one measurement, in a fresh process ----
def worker(name, framework, mode, steps, warmup, threads):
    """Print one JSON line: {"median_ms", "min_ms"} (mode "time") or {"peak_mb"} (mode "memory")."""
    step = ours(name) if framework == "autocompyute" else theirs(name, threads)
    import gc
    gc.collect()
    if mode == "memory":
        before = status_bytes("VmRSS")
        if not reset_peak():
            raise SystemExit("cannot reset the peak RSS (/proc/self/clear_refs)")
        for _ in range(4):
            float(step().item())
        print(json.dumps({"peak_mb": (status_bytes("VmHWM") - before) / 2**20}))
        return
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = float(step().item())
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "loss": loss}))


def measure(name, framework, mode, args):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    if framework == "autocompyute" and not getattr(args, "blas_threads", False):
        env["AUTOCOMPYUTE_NUM_THREADS"] = str(args.threads)  # (the engine then puts numpy's OpenBLAS on one thread)
    if mode == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        env["AUTOCOMPYUTE_MALLOC_TUNING"] = "0"  # the engine's own tuning would override the threshold
    elif args.malloc_tuned:
        env.update(malloc_tuned())
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, framework, mode, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(f"{name}/{framework} ({mode}) failed:\n{done.stderr[-3000:]}\n")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _op_classes():
    from autocompyute.ops.base import Op
    seen, todo = [], [Op]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def op_times(step, steps):
    """Seconds per step spent in each Op class's forward and backward (and the optimizer's step and zero_grad),
    by wrapping them."""
    from autocompyute import optim
    totals = {}

    def timed(key, fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                totals[key] = totals.get(key, 0.0) + time.perf_counter() - t0
        return wrapper

    patched = []
    for cls in _op_classes():
        for method in ("forward", "backward"):
            if method in cls.__dict__:
                patched.append((cls, method, cls.__dict__[method]))
                setattr(cls, method, timed((cls.__name__, method), cls.__dict__[method]))
    for method in ("step", "zero_grad"):
        fn = optim.Optimizer.__dict__[method]
        patched.append((optim.Optimizer, method, fn))
        setattr(optim.Optimizer, method, timed(("Adam", method), fn))
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - t0
    finally:
        for cls, method, fn in patched:
            setattr(cls, method, fn)
    return wall / steps, {k: v / steps for k, v in totals.items()}


def profile(name, steps, top):
    """Where autocompyute's training step for `name` goes: time per Op forward/backward, then cProfile."""
    import cProfile
    import pstats
    step = ours(name)
    for _ in range(3):
        step()
    wall, per_op = op_times(step, steps)
    print(f"autocompyute {name}: {1e3 * wall:.1f} ms per step ({steps} steps); time per step by Op and phase:")
    rows = sorted(per_op.items(), key=lambda kv: -kv[1])
    for (op, phase), sec in rows[:top]:
        print(f"  {op + '.' + phase:<40} {1e3 * sec:8.2f} ms  {100 * sec / wall:5.1f}%")
    rest = wall - sum(per_op.values())
    print(f"  {'(everything else: Python, graph, copies)':<40} {1e3 * rest:8.2f} ms  {100 * rest / wall:5.1f}%")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    print(f"\ncProfile, the top {top} functions by own time:")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def _best(runs):
    """The run with the lowest median time (None if there is none or one failed)."""
    if not runs or any(r is None for r in runs):
        return None
    return min(runs, key=lambda r: r["median_ms"])


def _has_torch():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads of both frameworks")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per model; the best median counts")
    parser.add_argument("--malloc-tuned", action="store_true", help="time both frameworks with glibc tuned as the engine does")
    parser.add_argument("--blas-threads", action="store_true",
                        help="ours in its default threading (numpy's BLAS threads only), not with --threads of its own")
    parser.add_argument("--profile", choices=MODELS, help="cProfile autocompyute's step of this model instead")
    parser.add_argument("--top", type=int, default=30, help="functions listed by --profile")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "FRAMEWORK", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.steps, args.warmup, args.threads)
    if args.profile:
        return profile(args.profile, args.steps, args.top)

    torch = _has_torch()
    if not torch:
        print("PyTorch is not installed: autocompyute alone (pip install torch==2.13.0 for the comparison)")
    rows, results = [], {}
    for name in args.models:
        frameworks = ["autocompyute", "torch"] if torch else ["autocompyute"]
        runs = {"autocompyute": [], "torch": []}
        for _ in range(args.rounds):
            for fw in frameworks:
                runs[fw].append(measure(name, fw, "time", args))
        a, t = (_best(runs[k]) for k in ("autocompyute", "torch"))
        for fw, best in (("autocompyute", a), ("torch", t)):
            memory = measure(name, fw, "memory", args) if best else None
            if best:
                best["peak_mb"] = memory["peak_mb"] if memory else float("nan")
        results[name] = {"autocompyute": a, "torch": t, "all_rounds": runs}
        ratio = a["median_ms"] / t["median_ms"] if a and t else None
        mem_ok = a["peak_mb"] < t["peak_mb"] if a and t else None
        ok = "" if ratio is None else ("yes" if ratio <= TARGETS[name] and mem_ok else "no")
        rows.append([name, SHAPES[name],
                     f"{a['median_ms']:.1f}" if a else "failed", f"{t['median_ms']:.1f}" if t else "-",
                     f"{ratio:.2f}" if ratio else "-", f"<= {TARGETS[name]}",
                     f"{a['peak_mb']:.1f}" if a else "-", f"{t['peak_mb']:.1f}" if t else "-", ok])
    head = ["model", "shape", "ours ms", "torch ms", "ratio", "target", "ours MB", "torch MB", "met"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print(f"one training step (forward, backward, Adam): median of {args.steps} after {args.warmup} warm-up, "
          f"best of {args.rounds} rounds, {args.threads} threads"
          + (" (ours: numpy's BLAS threads only)" if args.blas_threads else " (ours: the engine's threads)")
          + (", glibc malloc tuned (both)" if args.malloc_tuned else "") + "; MB: peak RSS increase over 4 steps")
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "steps": args.steps, "rounds": args.rounds, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
