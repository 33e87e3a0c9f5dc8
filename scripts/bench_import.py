"""Import cost: `interop.import_onnx(path)` against `onnx.load(path)` on a model with large initializers.

    python scripts/bench_import.py [--runs 5] [--sizes 2048 4096 4096 2048 10]

Writes an MLP (Gemm + Relu, float32 weights of the layer sizes given: about 128 MB by default) to a temporary
folder twice, with its initializers inline (raw_data) and as external data (one weights file), then loads each
file `--runs` times with each loader, every load in a fresh Python process, and prints the median time, the
ratio import_onnx / onnx.load, the peak resident memory the load added and what stayed resident after it.

Memory is resident set size (/proc/self/status), not tracemalloc: protobuf's C arena, which holds a parsed
model's tensors, is invisible to tracemalloc. The floor for import_onnx: a Parameter must be a writable array,
and protobuf hands raw_data out as an immutable bytes copy of its own buffer, so an inline initializer costs that
copy plus one more into the Parameter (both transient but for the Parameter); external data is read straight
into the Parameter's buffer (one copy, from the file). onnx.load keeps every tensor inside the proto.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _rss import reset_peak, status_bytes  # (scripts/ is on sys.path when a script runs)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


# ---- the model ----
def make_mlp(sizes, seed=0):
    """An MLP ModelProto: Gemm(transB=1) layers of `sizes` with Relu between, float32 initializers."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.standard_normal((n_out, n_in), dtype=np.float32) * np.float32(n_in ** -0.5)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"),
                  numpy_helper.from_array(np.zeros(n_out, np.float32), f"fc{i}.bias")]
        y = f"h{i}"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y], transB=1))
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [y], [f"r{i}"]))
            y = f"r{i}"
        x = y
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", sizes[0]])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["B", sizes[-1]])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def write_models(folder, sizes):
    """(inline path, external-data path, megabytes of weights)."""
    import onnx
    model = make_mlp(sizes)
    mb = sum(len(t.raw_data) for t in model.graph.initializer) / 2 ** 20
    inline = os.path.join(folder, "mlp.onnx")
    onnx.save(model, inline)
    os.makedirs(os.path.join(folder, "ext"))
    external = os.path.join(folder, "ext", "mlp.onnx")
    onnx.save(model, external, save_as_external_data=True, all_tensors_to_one_file=True, location="mlp.weights",
              size_threshold=1024)
    return inline, external, mb


# ---- one load, in a fresh process ----
def child(loader, path):
    """Time one load and measure its memory; prints one JSON line."""
    sys.path.insert(0, ROOT)
    import onnx

    from interop import import_onnx
    from interop.onnx.registry import load_rules
    load_rules()  # the rule modules load once per process: not part of a file's cost
    peak_reset = reset_peak()
    before = status_bytes("VmRSS") / 2**20   # MiB
    t0 = time.perf_counter()
    result = onnx.load(path) if loader == "onnx.load" else import_onnx(path)
    seconds = time.perf_counter() - t0
    peak = status_bytes("VmHWM") / 2**20 - before if peak_reset else float("nan")
    kept = status_bytes("VmRSS") / 2**20 - before
    del result
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "kept_mb": kept}))


def measure(loader, path, runs):
    rows = []
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    for _ in range(runs):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", loader, path],
                             capture_output=True, text=True, check=True, env=env)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 4096, 2048, 10])
    parser.add_argument("--child", nargs=2, metavar=("LOADER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as folder:
        inline, external, mb = write_models(folder, args.sizes)
        print(f"MLP {'-'.join(map(str, args.sizes))}: {mb:.0f} MiB of float32 initializers; median of {args.runs} "
              "loads, each in a fresh process; memory = resident set size added by the load (MiB)")
        print(f"{'file':9} {'loader':11} {'seconds':>8} {'ratio':>7} {'peak MiB':>9} {'kept MiB':>9}")
        for label, path in (("inline", inline), ("external", external)):
            base = measure("onnx.load", path, args.runs)
            ours = measure("import_onnx", path, args.runs)
            for loader, r in (("onnx.load", base), ("import_onnx", ours)):
                print(f"{label:9} {loader:11} {r['seconds']:8.3f} {r['seconds'] / base['seconds']:6.2f}x "
                      f"{r['peak_mb']:9.0f} {r['kept_mb']:9.0f}")


if __name__ == "__main__":
    main()
