"""The one table of op cases that drives the engine's tests (and, later, the ONNX ones).

Each family keeps its cases in a `cases_<family>.py` file beside this one, as a list named CASES; this module
gathers them all. Input makers take a numpy Generator and return an array.
"""
import importlib
import pathlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class Case:
    name: str
    fn: Callable                      # fn(*tensors) -> Tensor or tuple of Tensors
    inputs: tuple                     # input makers: rng -> numpy array
    ref: Optional[Callable] = None    # numpy reference on float64 arrays, same outputs as fn
    grad: bool = True                 # run the finite-difference check
    wrt: Optional[tuple] = None       # inputs to check (default: every floating one)
    rtol: float = 1e-5                # forward tolerance in float32
    atol: float = 1e-6
    eps: float = 1e-6                 # finite-difference step (larger for ops that round, like casts)
    marks: tuple = field(default_factory=tuple)

    def arrays(self, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        out = [make(rng) for make in self.inputs]
        return [a.astype(dtype) if a.dtype.kind == "f" else a for a in out]


# ---- input makers ----
def U(*shape, low=-2.0, high=2.0):
    """uniform floats"""
    return lambda rng: rng.uniform(low, high, shape)


def P(*shape, low=0.5, high=2.0):
    """positive floats"""
    return lambda rng: rng.uniform(low, high, shape)


def Away(*shape, gap=0.1):
    """floats in [-2, 2] at least `gap` away from 0 (for kinks at 0: relu, abs, ...)"""
    def make(rng):
        x = rng.uniform(gap, 2.0, shape)
        return x * rng.choice([-1.0, 1.0], shape)
    return make


def Distinct(*shape):
    """floats whose values are all distinct and well separated (for max, sort: no ties)"""
    def make(rng):
        n = int(np.prod(shape)) if shape else 1
        return (rng.permutation(n).astype(np.float64) * 0.3 - 0.15 * n + rng.uniform(0, 0.05, n)).reshape(shape)
    return make


def I(high, *shape, low=0):  # noqa: E743
    """int64 in [low, high)"""
    return lambda rng: rng.integers(low, high, shape).astype(np.int64)


def B(*shape):
    """booleans"""
    return lambda rng: rng.random(shape) < 0.5


def C(value):
    """a constant array"""
    return lambda rng: np.asarray(value)


def Strided(make):
    """the same values as `make`, as a non-contiguous view (every other element of a larger array)"""
    def wrapped(rng):
        a = make(rng)
        if a.ndim == 0:
            return a
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
        big[..., ::2] = a
        view = big[..., ::2]
        assert not view.flags.c_contiguous or a.shape[-1] <= 1
        return view
    return wrapped


def all_cases():
    here = pathlib.Path(__file__).parent
    cases = []
    for path in sorted(here.glob("cases_*.py")):
        cases.extend(importlib.import_module(path.stem).CASES)
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate case names: {dupes}"
    return cases


CASES = all_cases()
