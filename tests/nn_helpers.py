"""Small helpers shared by the layer tests (tests/test_nn_*.py) and the optimizer tests."""
import numpy as np

from autocompyute import nn, optim


def rand(*shape, seed=0):
    """A float32 array of standard normal values, the same for the same shape and seed."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def param_arrays(m):
    """The module's parameters by name, as float64 numpy arrays."""
    return {n: p.numpy().astype(np.float64) for n, p in m.named_parameters()}


def lr_trace(make_sched, steps, lr=1.0):
    """The learning rates of a one-parameter SGD driven by `make_sched(opt)`: the initial one, then the one after
    each of `steps` optimizer and scheduler steps (each checked against the scheduler's get_last_lr)."""
    p = nn.Parameter(np.ones(1))
    opt = optim.SGD([p], lr=lr)
    s = make_sched(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        s.step()
        out.append(opt.param_groups[0]["lr"])
        assert s.get_last_lr() == [out[-1]]
    return out
