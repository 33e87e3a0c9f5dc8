"""autocompyute.parallel: intra-op threads give the results of one pass, and errors come back."""
import threading

import numpy as np
import pytest

import autocompyute as ac
import autocompyute.nn.functional as F
from autocompyute import parallel


@pytest.fixture
def threads(monkeypatch):
    """Split everything, however small, over 3 threads; back to the previous setting afterwards."""
    before = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_THREAD", 1)
    parallel.set_num_threads(3)
    yield
    parallel.set_num_threads(before)


def test_one_thread_runs_everything_on_the_calling_thread():
    before = parallel.get_num_threads()
    parallel.set_num_threads(1)
    try:
        calls = []
        parallel.parallel_for(np, 8, lambda part: calls.append((part, threading.current_thread())), 1 << 30)
        assert calls == [(slice(0, 8), threading.current_thread())]
        with pytest.raises(ValueError, match="at least 1"):
            parallel.set_num_threads(0)
    finally:
        parallel.set_num_threads(before)


def test_the_default_is_one_thread_or_the_environment(monkeypatch):
    before = parallel._threads
    try:
        monkeypatch.delenv("AUTOCOMPYUTE_NUM_THREADS", raising=False)
        parallel._threads = None
        assert parallel.get_num_threads() == 1
        monkeypatch.setenv("AUTOCOMPYUTE_NUM_THREADS", "3")
        parallel._threads = None
        assert parallel.get_num_threads() == 3
    finally:
        parallel._threads = before


def test_parts_cover_the_range_once_and_run_in_several_threads(threads):
    seen, names = [], set()

    def fn(part):
        seen.extend(range(part.start, part.stop))
        names.add(threading.current_thread().name)

    parallel.parallel_for(np, 10, fn, 10)
    assert sorted(seen) == list(range(10))
    assert threading.current_thread().name in names and len(names) >= 2  # the caller and the pool's workers


def test_small_work_stays_on_the_calling_thread(threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_THREAD", 1000)
    calls = []
    parallel.parallel_for(np, 8, lambda part: calls.append((part, threading.current_thread())), 1500)
    assert calls == [(slice(0, 8), threading.current_thread())]


def test_an_error_in_a_part_is_raised_after_every_part_finished(threads):
    done = []

    def fn(part):
        if part.start == 0:
            raise ValueError("part zero")
        done.append(part.start)

    with pytest.raises(ValueError, match="part zero"):
        parallel.parallel_for(np, 9, fn, 9)
    assert sorted(done) == [3, 6]

    def fail_late(part):
        if part.start:
            raise KeyError(part.start)

    with pytest.raises(KeyError):
        parallel.parallel_for(np, 9, fail_late, 9)


def _results():
    """Outputs and gradients of max pooling (tiled, overlapping, with ties), ReLU and convolutions in every mode."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3, 8, 9))
    x[:, :, :2, :2] = 0.5  # ties: the gradient goes to the first maximum
    out = []
    ops = [lambda t: F.max_pool2d(t, 2), lambda t: F.max_pool2d(t, 3, stride=2, padding=1), F.relu]
    w = rng.standard_normal((4, 3, 3, 3))
    w_few = rng.standard_normal((12, 1, 2, 2))                      # fewer weights per output: a GEMM per sample
    for kw in (dict(padding=1), dict(stride=2, padding=1)):
        ops.append(lambda t, kw=kw: F.conv2d(t, ac.tensor(w, requires_grad=True), **kw))
    ops.append(lambda t: F.conv2d(t[:, :1], ac.tensor(w_few), padding=1))
    for op in ops:
        t = ac.tensor(x, requires_grad=True)
        y = op(t)
        (y * ac.tensor(rng.standard_normal(y.shape))).sum().backward()
        out += [y.numpy(), t.grad]
    wt = ac.tensor(w, requires_grad=True)
    F.conv2d(ac.tensor(x), wt, padding=1).sum().backward()
    out.append(wt.grad)
    return out


def test_pooling_relu_and_convolution_give_the_same_results_in_threads(threads):
    parallel.set_num_threads(1)
    serial = _results()
    parallel.set_num_threads(3)
    threaded = _results()
    for a, b in zip(serial[:-1], threaded[:-1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(serial[-1], threaded[-1], rtol=1e-12)  # a weight gradient: summed part by part


def _linear_results():
    ac.manual_seed(0)
    layer = ac.nn.Linear(6, 5).double()
    x = ac.tensor(np.random.default_rng(1).standard_normal((7, 3, 6)), requires_grad=True)
    y = layer(x)
    (y * y).sum().backward()
    return [y.numpy(), x.grad, layer.weight.grad, layer.bias.grad]


def test_linear_gives_the_same_results_in_threads(threads):
    parallel.set_num_threads(1)
    serial = _linear_results()
    parallel.set_num_threads(3)
    threaded = _linear_results()
    for a, b in zip(serial, threaded):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)  # the same dot products, by column blocks



def test_blas_threads_raises_numpys_openblas_count_inside_the_block_only():
    blas = parallel._openblas()
    if not blas:
        pytest.skip("numpy's BLAS thread count cannot be set here")
    set_count, get_count = blas
    before = get_count()
    try:
        set_count(1)
        with parallel.blas_threads(2):
            assert get_count() == 2
        assert get_count() == 1
        with pytest.raises(RuntimeError):
            with parallel.blas_threads(2):
                raise RuntimeError("an error inside")
        assert get_count() == 1                       # restored on the way out of an error too
        set_count(3)
        with parallel.blas_threads(2):
            assert get_count() == 3                   # never lowered
    finally:
        set_count(before)


class FakeBlas:
    """A BLAS whose thread count is a number, with a log of what each forward and backward saw."""

    def __init__(self, count):
        self.count, self.seen = count, []

    def set(self, n):
        self.count = n

    def get(self):
        return self.count


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_recurrences_run_with_blas_on_the_engines_threads_and_give_it_back(threads, layer, monkeypatch):
    """Under 3 engine threads (OpenBLAS put on one), a recurrent op's forward and backward run with BLAS on 3
    threads, back on one afterwards; when set_num_threads(1) runs inside, BLAS keeps the count that gave back."""
    from autocompyute.ops import rnn
    fake = FakeBlas(1)
    monkeypatch.setattr(parallel, "_blas", (fake.set, fake.get))
    monkeypatch.setattr(parallel, "_blas_own_threads", 4)               # the engine holds the cores
    cls = getattr(rnn, layer)
    originals = {name: getattr(cls, name).__wrapped__ for name in ("forward", "backward")}
    seen = []

    def logging(name):
        def method(op, *args):
            seen.append((name, fake.count))
            return originals[name](op, *args)
        return parallel.blas_bound(method)

    for name in originals:
        monkeypatch.setattr(cls, name, logging(name))
    net = getattr(ac.nn, layer)(4, 5)
    x = ac.tensor(np.ones((3, 2, 4), np.float32))
    net(x)[0].sum().backward()
    assert seen == [("forward", 3), ("backward", 3)] and fake.count == 1

    def releasing(op, *args):
        parallel.set_num_threads(1)
        return originals["forward"](op, *args)

    monkeypatch.setattr(cls, "forward", parallel.blas_bound(releasing))
    with ac.no_grad():
        net(x)
    assert fake.count == 4


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_recurrent_layers_give_the_same_results_with_blas_threads_raised(threads, layer):
    """A recurrence runs with BLAS on the engine's thread count (blas_bound); outputs and gradients are those of
    one thread (up to BLAS's float rounding), and BLAS's count is back afterwards."""
    blas = parallel._openblas()
    before = blas[1]() if blas else None
    ac.manual_seed(0)
    net = getattr(ac.nn, layer)(8, 16, batch_first=True)
    x = ac.tensor(np.random.default_rng(0).standard_normal((4, 6, 8)).astype(np.float32))

    def run():
        net.zero_grad()
        out, _ = net(x)
        out.sum().backward()
        return [out.numpy()] + [p.grad.copy() for p in net.parameters()]

    threaded = run()
    if blas:
        assert blas[1]() == before
    parallel.set_num_threads(1)
    for a, b in zip(threaded, run()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_engine_threads_take_the_cores_from_openblas_and_give_them_back():
    blas = parallel._openblas()
    if not blas:
        pytest.skip("numpy's BLAS thread count cannot be set here")
    set_count, get_count = blas
    before, threads_before = get_count(), parallel.get_num_threads()
    try:
        parallel.set_num_threads(1)
        set_count(2)
        parallel.set_num_threads(3)
        assert get_count() == 1
        parallel.set_num_threads(2)
        assert get_count() == 1
        parallel.set_num_threads(1)
        assert get_count() == 2                        # the count it had before the engine took the cores
    finally:
        parallel.set_num_threads(threads_before)
        set_count(before)
