"""Inference latency: autocompyute (no_grad) against onnxruntime CPU (2 threads) on the exported model.

    python scripts/bench_infer.py [--repeats 30] [--models mlp cnn gpt lstm]

Models and shapes (the training benchmark's): MLP 784-512-512-10 at batch 128; LeNet CNN on 1x28x28 at batch 64;
GPT (vocab 256, d 128, 4 heads, 2 layers) on sequences of 64 at batch 16; LSTM (input 32, hidden 128) on
sequences of 50 at batch 32: the model_zoo models at their default configs. Prints median times and the ratio
autocompyute / onnxruntime.
Targets: MLP <= 1.2x, CNN <= 3x, GPT <= 2x, LSTM <= 2x. `--blas-threads N` sets numpy's BLAS threads.

The "imported" column runs the exported model again through `interop.import_onnx` (under no_grad), next to the
native model it came from; its target is imported / native <= 1.2x.

Where PyTorch is installed (`pip install torch==2.13.0`; `--no-torch` leaves it out), its eager no_grad forward of
the same model (bench_train's PyTorch definitions, torch.set_num_threads(2)) is timed too, in a process of its
own, as a second reference: an eager framework's cost against onnxruntime's optimized graph. Its OpenMP threads
spin while they wait, so on a machine busy with other work its times jump by 10-50x: read it from quiet runs.
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

if "--blas-threads" in sys.argv:  # must be set before numpy loads OpenBLAS
    _n = sys.argv[sys.argv.index("--blas-threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import autocompyute as ac  # noqa: E402
from interop import export_onnx, import_onnx  # noqa: E402

TARGETS = {"mlp": 1.2, "cnn": 3.0, "gpt": 2.0, "lstm": 2.0}
IMPORT_TARGET = 1.2  # imported / native
SETTLE_S = 0.5  # pause before each timed block: the other runtime's spinning threads go to sleep


BENCH_MODELS = ("mlp", "cnn", "gpt", "lstm")
ZOO_NAMES = {"cnn": "lenet"}  # the zoo's name where it differs from the benchmark's


def build(name):
    """The zoo's model (its default config is the benchmark's size) and example inputs."""
    from interop.cli_export import build_zoo_model
    return build_zoo_model(ZOO_NAMES.get(name, name))


def median_times(fns, repeats, warmup=3):
    """Median seconds of each function, timed in turns (one call of each per round), so that load from other
    processes on a shared machine falls on all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def main(argv=None):
    import onnxruntime as ort
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", nargs="*", default=list(BENCH_MODELS))
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch column")
    parser.add_argument("--blas-threads", help="threads of numpy's BLAS (default: as the environment says); on a "
                        "busy 2-core machine multi-threaded OpenBLAS can be 10-80x slower than one thread")
    args = parser.parse_args(argv)
    ac.manual_seed(0)
    use_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    rows = []
    for name in args.models:
        model, inputs = build(name)
        model.eval()
        arrays = [x.numpy() if isinstance(x, ac.Tensor) else np.asarray(x) for x in inputs]
        proto = export_onnx(model, tuple(arrays))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feeds = {i.name: a for i, a in zip(sess.get_inputs(), arrays)}
        tensors = [ac.tensor(a) for a in arrays]

        imported_model = import_onnx(proto)

        def ours():
            with ac.no_grad():
                return model(*tensors)

        def imported():
            with ac.no_grad():
                return imported_model(*tensors)

        # Each runtime's idle threads spin for a while after its last call (OpenBLAS's for about 0.1 s), taking a
        # core from whatever runs next: the two runtimes are timed in separate blocks, each after a pause
        time.sleep(SETTLE_S)
        ours_s, imp_s = median_times([ours, imported], args.repeats)
        time.sleep(SETTLE_S)
        (ort_s,) = median_times([lambda: sess.run(None, feeds)], args.repeats)
        torch_s = time_torch(name, arrays, args.repeats) if use_torch else float("nan")
        ref = np.asarray(sess.run(None, feeds)[0])
        err = np.abs(ref - _first(ours()).astype(np.float32)).max()
        imp_err = np.abs(_first(ours()) - _first(imported())).max()
        rows.append((name, ours_s * 1e3, imp_s * 1e3, ort_s * 1e3, ours_s / ort_s, TARGETS[name],
                     imp_s / ours_s, err, imp_err, torch_s * 1e3))
    print(f"numpy BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; onnxruntime: 2 intra-op threads; "
          f"median of {args.repeats} rounds (native and imported timed in turns)")
    print(f"{'model':6} {'native ms':>10} {'imported ms':>12} {'onnxruntime ms':>15} "
          f"{'native/ort':>11} {'target':>7} {'imp/native':>11} {'max err ort':>12} {'max err imp':>12} "
          f"{'torch ms':>9} {'torch/ort':>10}")
    for name, a, i, o, r, t, ri, e, ei, pt in rows:
        flags = ("" if r <= t else "  (ort target missed)") + ("" if ri <= IMPORT_TARGET else "  (import target missed)")
        print(f"{name:6} {a:10.2f} {i:12.2f} {o:15.2f} {r:10.2f}x {t:6.1f}x {ri:10.2f}x {e:12.2e} "
              f"{ei:12.2e} {pt:9.2f} {pt / o:9.2f}x{flags}")


def time_torch(name, arrays, repeats):
    """Median seconds of PyTorch's eager forward of the same model (no_grad, 2 threads), in a process of its own:
    in this one, torch's OpenMP threads spin beside numpy's and onnxruntime's and slow all three."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inputs.npz")
        np.savez(path, *arrays)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", name, path, str(repeats)],
                             capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the PyTorch worker for {name} failed:\n{out.stderr}")
    return float(out.stdout.split()[-1])


def torch_worker(name, path, repeats):
    import torch

    from bench_train import torch_model
    model = torch_model(name, threads=2).eval()
    with np.load(path) as f:
        inputs = [torch.from_numpy(a.astype(np.int64) if a.dtype.kind in "iu" else a) for a in f.values()]

    def run():
        with torch.no_grad():
            return model(*inputs)

    (seconds,) = median_times([run], int(repeats))
    print(seconds)


def _first(out):
    """The first output as a numpy array."""
    out = out[0] if isinstance(out, tuple) else out
    return np.asarray(out.numpy() if isinstance(out, ac.Tensor) else out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--torch-worker"]:
        torch_worker(*sys.argv[2:5])
    else:
        main()
