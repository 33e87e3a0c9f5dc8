"""Intra-op threads: convolution, pooling and ReLU split over the batch, Linear's GEMMs over their output columns.

numpy runs its ufuncs and copies on the calling thread, but releases the GIL while they loop, so disjoint parts of
a batch can run in a few threads at once. This pays only while numpy's BLAS is single-threaded: a multi-threaded
OpenBLAS keeps its idle threads spinning for about 0.1 s after every GEMM, on the cores these threads would use.
So `set_num_threads(n)` (or AUTOCOMPYUTE_NUM_THREADS=n) with n > 1 hands the cores to the engine: numpy's OpenBLAS
goes to one thread (through its C API; set OPENBLAS_NUM_THREADS=1 yourself where numpy's BLAS is another), and
back to its own count with `set_num_threads(1)`. It is opt-in, the default is 1 thread, everything on the calling
thread: convolutional networks train faster with the engine's threads, GEMM-bound models (MLP, transformer) with
BLAS's own (see the README's benchmarks).

Results do not depend on the thread count, except that a weight gradient summed over the batch is summed part by
part (the same values up to float rounding).

A recurrence (RNN, LSTM, GRU) is a sequence of small GEMMs, each too short to share between Python threads: ops
marked `blas_bound` run with numpy's BLAS on as many threads as the engine has instead, when numpy's BLAS is an
OpenBLAS whose thread count can be set at run time, and back on its own count afterwards.
"""
import contextlib
import ctypes
import functools
import glob
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# below this many elements per part, a thread costs more than it saves
MIN_ELEMENTS_PER_THREAD = 1 << 16

_threads = None
_executor = None


def get_num_threads():
    """How many threads `parallel_for` uses at most, the calling thread included (default 1, or
    AUTOCOMPYUTE_NUM_THREADS)."""
    global _threads
    if _threads is None:
        value = os.environ.get("AUTOCOMPYUTE_NUM_THREADS", "")
        _threads = int(value) if value.isdigit() and int(value) > 0 else 1
        _share_cores_with_blas(_threads)
    return _threads


def set_num_threads(n):
    """Use at most n threads (n >= 1) for intra-op work; 1 runs everything on the calling thread."""
    global _threads, _executor
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    _threads = n
    _share_cores_with_blas(n)
    if _executor is not None:
        _executor.shutdown(wait=True)
        _executor = None


def _forget_executor():
    global _executor
    _executor = None  # a forked child has none of the parent's worker threads


os.register_at_fork(after_in_child=_forget_executor)


def parts(n, elements):
    """How many parts a loop over n items touching `elements` elements in all should be split into."""
    return max(1, min(get_num_threads(), n, elements // MIN_ELEMENTS_PER_THREAD))


def parallel_for(xp, n, fn, elements):
    """Call fn(part) for disjoint slices `part` covering range(n): in up to get_num_threads() threads when the
    arrays are numpy's and there are enough `elements` (touched by the whole loop) to share, else once with
    slice(0, n). Waits for every part; an exception raised by a part is raised here."""
    global _executor
    k = parts(n, elements) if xp is np else 1
    if k == 1:
        fn(slice(0, n))
        return
    bounds = [i * n // k for i in range(k + 1)]
    pieces = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    if _executor is None:
        _executor = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="autocompyute")
    futures = [_executor.submit(fn, piece) for piece in pieces[1:]]
    try:
        fn(pieces[0])  # the calling thread takes the first part
    finally:
        errors = [f.exception() for f in futures]  # waits for all: no part still writes after we return
    for error in errors:
        if error is not None:
            raise error


def matmul(xp, a, b):
    """a (M, K) @ b (K, N) with its N output columns split over the intra-op threads when the product is large
    (a weight split by columns is packed once, half by each thread, where a split by rows would pack all of it
    twice). Each output element is the same dot product as in one GEMM."""
    m, n = a.shape[0], b.shape[1]
    work = m * a.shape[1] * n // 64  # (about 8 M multiply-adds make two parts: below, a thread costs too much)
    if xp is not np or parts(n, work) == 1:
        return a @ b
    out = np.empty((m, n), dtype=np.result_type(a.dtype, b.dtype))
    parallel_for(xp, n, lambda part: np.matmul(a, b[:, part], out=out[:, part]), work)
    return out


# ---- numpy's OpenBLAS thread count, for ops that are sequences of small GEMMs ----
_OPENBLAS_NAMES = ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads", "openblas_{}_num_threads64_",
                   "openblas_{}_num_threads")
_blas = None  # (set, get) once looked up; () where there is none


def _openblas():
    """(set_num_threads, get_num_threads) of the OpenBLAS bundled with numpy, or () (another BLAS, or none found)."""
    global _blas
    if _blas is None:
        _blas = ()
        root = os.path.dirname(os.path.dirname(np.__file__))
        for path in sorted(glob.glob(os.path.join(root, "numpy.libs", "*openblas*"))
                           + glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _OPENBLAS_NAMES:
                if hasattr(lib, name.format("set")) and hasattr(lib, name.format("get")):
                    setter, getter = getattr(lib, name.format("set")), getattr(lib, name.format("get"))
                    setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                    _blas = (setter, getter)
                    return _blas
    return _blas


_blas_own_threads = None  # OpenBLAS's thread count before the engine took the cores


def _share_cores_with_blas(n):
    """With n > 1 engine threads, numpy's OpenBLAS on one thread; with 1, on the count it had before."""
    global _blas_own_threads
    blas = _openblas()
    if not blas:
        return
    if n > 1:
        if _blas_own_threads is None:
            _blas_own_threads = blas[1]()
        blas[0](1)
    elif _blas_own_threads is not None:
        blas[0](_blas_own_threads)
        _blas_own_threads = None


@contextlib.contextmanager
def blas_threads(n):
    """numpy's OpenBLAS on at least n threads inside the block, on its own count again after it (nothing changes
    where the count cannot be read and set)."""
    blas = _openblas() if n > 1 else ()
    before = blas[1]() if blas else n
    if before >= n:
        yield
        return
    held = _blas_own_threads is not None  # whether the engine holds the cores (OpenBLAS on one thread for it)
    blas[0](n)
    try:
        yield
    finally:
        if _blas_own_threads is not None:
            blas[0](1)
        elif not held:
            blas[0](before)
        # (else set_num_threads(1) ran inside the block and gave OpenBLAS its own count back: left so)


def blas_bound(method):
    """Marks an Op method made of small GEMMs in sequence: with several intra-op threads, it runs with numpy's BLAS on
    as many threads (see the module's docstring)."""
    @functools.wraps(method)
    def run(op, *args, **kwargs):
        if op.xp is not np or get_num_threads() == 1:
            return method(op, *args, **kwargs)
        with blas_threads(get_num_threads()):
            return method(op, *args, **kwargs)
    return run
