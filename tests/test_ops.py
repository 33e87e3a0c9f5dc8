"""The op table run against each oracle: numpy references (float32, contiguous and strided inputs) and
float64 finite differences. Plus completeness: every Op class is exercised by some case."""
import numpy as np
import pytest

import autocompyute as ac
from autocompyute.ops import all_ops
from gradcheck import as_list, check_grads
from op_cases import CASES, Strided


def _compare(case, arrays):
    tensors = [ac.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a) for a in arrays]
    got = as_list(case.fn(*tensors))
    want = as_list(case.ref(*[np.asarray(a) for a in arrays]))
    assert len(got) == len(want), f"{len(got)} outputs, reference has {len(want)}"
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape, f"shape {g.shape} != reference {w.shape}"
        if w.dtype.kind == "f":
            assert g.dtype.kind == "f", f"dtype {g.dtype}, reference is floating"
            np.testing.assert_allclose(g.numpy(), w, rtol=case.rtol, atol=case.atol)
        else:
            np.testing.assert_array_equal(g.numpy(), w)


with_ref = [c for c in CASES if c.ref is not None]
with_grad = [c for c in CASES if c.grad]


@pytest.mark.parametrize("case", with_ref, ids=[c.name for c in with_ref])
def test_forward(case):
    _compare(case, case.arrays())


@pytest.mark.parametrize("case", with_ref, ids=[c.name for c in with_ref])
def test_forward_strided_inputs(case):
    rng = np.random.default_rng(0)
    arrays = [Strided(make)(rng) for make in case.inputs]
    assert any(a.ndim and not a.flags.c_contiguous for a in arrays) or all(a.ndim == 0 for a in arrays)
    _compare(case, arrays)


@pytest.mark.parametrize("case", with_grad, ids=[c.name for c in with_grad])
def test_gradient(case):
    check_grads(case.fn, case.arrays(), wrt=case.wrt, eps=case.eps)


def _ops_in_graph(outputs):
    found, stack, seen = set(), [o.ctx for o in outputs if o.ctx is not None], set()
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        found.add(type(op))
        stack.extend(t.ctx for t in op.inputs if t.ctx is not None)
    return found


def _covered(cases):
    found = set()
    for case in cases:
        with ac.autograd.record_graph():
            outs = as_list(case.fn(*[ac.tensor(a) for a in case.arrays()]))
        found |= _ops_in_graph(outs)
    return found


# Ops whose cases need hardware CI lacks; each is covered where that hardware is (see the reason).
EXEMPT = {
    "ToDevice": "moves between numpy and cupy: gradient-checked in tests/test_gpu.py, which needs a GPU",
}


def test_every_op_has_a_case():
    """A differentiable Op needs a gradient case; any Op needs at least a forward case."""
    graded = _covered(with_grad) | {op for op in all_ops() if op.__name__ in EXEMPT}
    tested = graded | _covered(with_ref)
    missing_grad = [op.__name__ for op in all_ops() if op.differentiable and op not in graded]
    missing = [op.__name__ for op in all_ops() if op not in tested]
    assert not missing_grad, f"Ops without a gradient case: {missing_grad}"
    assert not missing, f"Ops without any case: {missing}"


@pytest.mark.parametrize("case", with_ref, ids=[c.name for c in with_ref])
def test_forward_without_grad_equals_forward_with_grad(case):
    """Ops skip work they only need for backward when no gradient is wanted: the values must not change."""
    arrays = case.arrays()

    def run(grad):
        tensors = [ac.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
        with ac.enable_grad() if grad else ac.no_grad():
            return [o.numpy() for o in as_list(case.fn(*tensors))]

    for with_grad, without in zip(run(True), run(False)):
        np.testing.assert_array_equal(without, with_grad)
