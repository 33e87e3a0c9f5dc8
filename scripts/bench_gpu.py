"""Training-step speed on an NVIDIA GPU: autocompyute on CuPy against PyTorch on CUDA, side by side.

    python scripts/bench_gpu.py [--steps 30] [--warmup 5] [--rounds 3] [--models mlp cnn gpt lstm]

The training benchmark's models, shapes and step (scripts/bench_train.py: zero_grad, forward, cross-entropy,
backward, Adam), with the model and the batch on the GPU. Each step ends with a device synchronisation, so a step's
time is its whole GPU work; the median of --steps steps counts, the frameworks alternate --rounds times and the best
median of each is printed with the ratio autocompyute / PyTorch. At these small shapes both frameworks wait on
kernel launches more than on arithmetic: the ratio measures per-op overhead as much as kernels. Needs CuPy and
PyTorch with CUDA (the GPU machine's image has both); no targets, a measurement.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bench_infer import median_times  # noqa: E402
from bench_train import MODELS, SHAPES, make_inputs, make_step, torch_model  # noqa: E402


def ours(name):
    import cupy

    import autocompyute as ac
    from autocompyute import optim
    from autocompyute.nn import functional as F
    from model_zoo import gpt, lenet, lstm, mlp

    ac.manual_seed(0)
    model = {"mlp": mlp, "cnn": lenet, "gpt": gpt, "lstm": lstm}[name].build().to("cuda")
    x, y = make_inputs(name)
    x, y = ac.tensor(x, device="cuda"), ac.tensor(y.astype("int64"), device="cuda")
    return make_step(model, optim.Adam(model.parameters(), lr=1e-3), F, x, y), cupy.cuda.Device().synchronize


def theirs(name):
    import torch
    import torch.nn.functional as F

    model = torch_model(name, threads=1).cuda()
    x, y = make_inputs(name)
    x, y = torch.from_numpy(x).cuda(), torch.from_numpy(y.astype("int64")).cuda()
    return make_step(model, torch.optim.Adam(model.parameters(), lr=1e-3), F, x, y), torch.cuda.synchronize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args(argv)
    import cupy
    import torch
    print(f"{torch.cuda.get_device_name()}; CuPy {cupy.__version__}, PyTorch {torch.__version__}; best of "
          f"{args.rounds} rounds of the median of {args.steps} steps")
    print(f"{'model':6} {'shape':28} {'ours ms':>8} {'torch ms':>9} {'ratio':>6}")
    for name in args.models:
        runs, times = {"ours": ours(name), "torch": theirs(name)}, {"ours": [], "torch": []}
        for _ in range(args.rounds):
            for k, (step, sync) in runs.items():
                synced = lambda: (step(), sync())  # noqa: E731  (a step's time is its whole GPU work)
                times[k].append(median_times([synced], args.steps, args.warmup)[0] * 1e3)
        best = {k: min(ts) for k, ts in times.items()}
        print(f"{name:6} {SHAPES[name]:28} {best['ours']:8.2f} {best['torch']:9.2f} "
              f"{best['ours'] / best['torch']:6.2f}")


if __name__ == "__main__":
    main()
