"""Optimizers against a numpy transcription of PyTorch's documented update formulas, over several steps of a
problem whose gradients depend on the parameters; schedulers against their closed forms."""
import copy
import math

import numpy as np
import pytest

import autocompyute as ac
from autocompyute import nn, optim
from autocompyute.optim import lr_scheduler as sched
from nn_helpers import lr_trace

RNG = np.random.default_rng(0)
A = RNG.standard_normal((5, 4))
B = RNG.standard_normal(5)
P0 = RNG.standard_normal(4)


def _grad(p):
    """Gradient of 0.5 * ||A p - B||^2."""
    return A.T @ (A @ p - B)


def _run(make_opt, steps=6, maximize=False):
    p = nn.Parameter(P0.copy())                   # float64: tight comparisons
    opt = make_opt([p])
    out = []
    for _ in range(steps):
        g = _grad(p.numpy())
        p.grad = -g if maximize else g
        opt.step()
        out.append(p.numpy().copy())
    return np.array(out)


# ---- numpy references (the formulas in PyTorch's documentation) ----
def _sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, steps=6):
    p, buf, out = P0.copy(), None, []
    for _ in range(steps):
        g = _grad(p) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return np.array(out)


def _adam(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False, amsgrad=False, steps=6):
    p, m, v, vmax, out = P0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for t in range(1, steps + 1):
        g = _grad(p)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return np.array(out)


def _rmsprop(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, steps=6):
    p, s, a, buf, out = P0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for _ in range(steps):
        g = _grad(p) + weight_decay * p
        s = alpha * s + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            avg = np.sqrt(s - a * a) + eps
        else:
            avg = np.sqrt(s) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        out.append(p)
    return np.array(out)


CASES = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.05), lambda: _sgd(0.05)),
    ("sgd_momentum_dampening_wd", lambda ps: optim.SGD(ps, lr=0.03, momentum=0.9, dampening=0.3, weight_decay=0.1),
     lambda: _sgd(0.03, 0.9, 0.3, 0.1)),
    ("sgd_nesterov", lambda ps: optim.SGD(ps, lr=0.03, momentum=0.8, nesterov=True), lambda: _sgd(0.03, 0.8,
                                                                                                  nesterov=True)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.1), lambda: _adam(0.1)),
    ("adam_betas_eps_wd", lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.2),
     lambda: _adam(0.05, 0.8, 0.95, 1e-3, 0.2)),
    ("adam_amsgrad", lambda ps: optim.Adam(ps, lr=0.2, betas=(0.5, 0.6), amsgrad=True),
     lambda: _adam(0.2, 0.5, 0.6, amsgrad=True)),
    ("adamw", lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), lambda: _adam(0.1, weight_decay=0.5,
                                                                                  decoupled=True)),
    ("adamw_default_decay", lambda ps: optim.AdamW(ps, lr=0.1), lambda: _adam(0.1, weight_decay=0.01,
                                                                              decoupled=True)),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01), lambda: _rmsprop(0.01)),
    ("rmsprop_centered_momentum_wd", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1,
                                                               momentum=0.5, centered=True),
     lambda: _rmsprop(0.01, 0.9, 1e-4, 0.1, 0.5, True)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_update_formulas_match_numpy(name, make, ref):
    np.testing.assert_allclose(_run(make), ref(), rtol=1e-10, atol=1e-12)


def test_maximize_ascends():
    np.testing.assert_allclose(_run(lambda ps: optim.Adam(ps, lr=0.1, maximize=True), maximize=True), _adam(0.1),
                               rtol=1e-10)


def test_float32_parameters_stay_float32_and_update_in_place():
    p = nn.Parameter(np.ones(3, np.float32))
    data = p.data
    p.grad = np.full(3, 0.5, np.float32)
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9), optim.Adam([p]), optim.RMSprop([p], centered=True)):
        opt.step()
    assert p.dtype == np.float32 and p.data is data


def test_parameters_without_gradient_are_skipped_and_zero_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), 1)
    assert a.numpy()[0] < 1
    opt.zero_grad()
    assert a.grad is None
    a.grad = np.ones(2)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, 0)


def test_param_groups_have_their_own_hyperparameters():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    a.grad, b.grad = np.ones(2), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), 0.9)
    np.testing.assert_allclose(b.numpy(), 0.5)
    assert opt.param_groups[1]["momentum"] == 0.0
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [a]})


def test_invalid_arguments():
    p = [nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError):
        optim.SGD(p, lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True),
                                  lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
                                  lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True)])
def test_state_dict_resume_gives_the_same_trajectory(make):
    full = _run(make, steps=6)
    p = nn.Parameter(P0.copy())
    opt = make([p])
    for _ in range(3):
        p.grad = _grad(p.numpy())
        opt.step()
    saved_state, saved_p = copy.deepcopy(opt.state_dict()), p.numpy().copy()
    q = nn.Parameter(saved_p)
    opt2 = make([q])
    opt2.param_groups[0]["lr"] = 123.0                  # overwritten by the state dict
    opt2.load_state_dict(saved_state)
    rest = []
    for _ in range(3):
        q.grad = _grad(q.numpy())
        opt2.step()
        rest.append(q.numpy().copy())
    np.testing.assert_allclose(np.array(rest), full[3:], rtol=1e-12)


def test_state_dict_layout_and_mismatch():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad = np.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert set(sd["state"]) == {0} and set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"] == 1
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([a, b]).load_state_dict(sd)


# ---- schedulers ----
def test_step_lr():
    assert lr_trace(lambda o: sched.StepLR(o, step_size=2, gamma=0.5), 5) == pytest.approx([1, 1, .5, .5, .25, .25])


def test_cosine_annealing_lr():
    got = lr_trace(lambda o: sched.CosineAnnealingLR(o, T_max=4, eta_min=0.1), 4, lr=0.5)
    want = [0.1 + 0.4 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert got == pytest.approx(want)
    assert got[-1] == pytest.approx(0.1)


def test_linear_lr_warmup():
    got = lr_trace(lambda o: sched.LinearLR(o, start_factor=0.25, total_iters=3), 5, lr=2.0)
    assert got == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])


def test_lambda_lr_per_group():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 2.0}], lr=1.0)
    s = sched.LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1 + e])
    s.step()
    s.step()
    assert s.get_last_lr() == pytest.approx([0.25, 6.0])


def test_sequential_warmup_then_cosine():
    got = lr_trace(lambda o: sched.warmup_cosine(o, warmup_steps=2, total_steps=6, start_factor=0.5), 7)
    want = [0.5, 0.75] + [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)] + [0.5 * (1 + math.cos(
        math.pi * 5 / 4))]
    assert got == pytest.approx(want)


def test_scheduler_state_dict_resumes():
    p = nn.Parameter(np.ones(1))
    opt = optim.SGD([p], lr=1.0)
    s = sched.StepLR(opt, step_size=1, gamma=0.5)
    s.step()
    s.step()
    state = s.state_dict()
    opt2 = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    s2 = sched.StepLR(opt2, step_size=1, gamma=0.5)
    s2.load_state_dict(state)
    s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.125)


def test_training_reduces_the_loss_with_each_optimizer():
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.05),
                 lambda ps: optim.AdamW(ps, lr=0.05), lambda ps: optim.RMSprop(ps, lr=0.01)):
        ac.manual_seed(0)
        model = nn.Linear(4, 1)
        x, y = ac.tensor(A[:, :4].astype(np.float32)), ac.tensor(B[:, None].astype(np.float32))
        opt = make(model.parameters())
        first = None
        for _ in range(30):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else loss.item()
        assert loss.item() < 0.5 * first
