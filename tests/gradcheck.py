"""Finite-difference gradient checks in float64, along random directions (in the manner of HIPS autograd)."""
import numpy as np

import autocompyute as ac


def as_list(result):
    """The outputs of a call as a list: a tuple or list of them as a list, a single one in a list."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


def check_grads(fn, arrays, wrt=None, eps=1e-6, rtol=1e-5, atol=1e-6, directions=2, seed=0):
    """Compare the engine's gradients of `fn(*tensors)` with central differences.

    `arrays` are numpy inputs; those at positions `wrt` (default: every floating one) are checked in float64.
    A random output weighting turns several outputs into one scalar; each input is probed along `directions`
    random unit vectors. Raises AssertionError naming the input at fault.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    tensors = [ac.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    outs = [o for o in as_list(fn(*tensors)) if o.dtype.kind == "f"]
    weights = [rng.standard_normal(o.shape) for o in outs]
    total = None
    for o, w in zip(outs, weights):
        term = (o * ac.tensor(w)).sum()
        total = term if total is None else total + term
    total.backward()

    def f(arrs):
        with ac.no_grad():
            res = [o for o in as_list(fn(*[ac.tensor(a) for a in arrs])) if o.dtype.kind == "f"]
        return sum(float((o.numpy() * w).sum()) for o, w in zip(res, weights))

    for i in wrt:
        grad = tensors[i].grad
        assert grad is not None, f"input {i}: no gradient reached it"
        assert grad.shape == arrays[i].shape, f"input {i}: gradient shape {grad.shape} != {arrays[i].shape}"
        for _ in range(directions):
            v = rng.standard_normal(arrays[i].shape)
            v /= np.linalg.norm(v) or 1.0
            plus = [a + eps * v if j == i else a for j, a in enumerate(arrays)]
            minus = [a - eps * v if j == i else a for j, a in enumerate(arrays)]
            numeric = (f(plus) - f(minus)) / (2 * eps)
            analytic = float((np.asarray(grad) * v).sum())
            assert abs(numeric - analytic) <= atol + rtol * max(abs(numeric), abs(analytic)), (
                f"input {i}: analytic directional derivative {analytic:.10g} != numeric {numeric:.10g}")
