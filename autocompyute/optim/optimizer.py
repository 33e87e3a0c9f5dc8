"""`Optimizer`: parameter groups, zero_grad, step, and a state dict in PyTorch's layout.

Updates work on the arrays (`p.data`, `p.grad`) directly, in place on `p.data`, so they build no graph.
Gradients are only read: a `.grad` array may be shared, so it is never modified in place.
"""
import copy

import numpy as np

from .. import backends
from ..tensor import Tensor


class Optimizer:
    """Subclasses set `defaults` and write `update(p, grad, state, group)` for one parameter. Per-parameter
    state values are arrays shaped like the parameter, except the names in `scalar_state` (Python numbers)."""

    scalar_state = ("step",)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}                 # id(param) -> dict of per-parameter state
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, not a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError("a parameter appears in more than one parameter group")
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = p.xp.zeros_like(p.grad)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; `closure` re-evaluates the loss (returned)."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if not group.get("maximize") else -p.grad
                self.update(p, grad, self.state.setdefault(id(p), {}), group)
        return loss

    def update(self, p, grad, state, group):
        raise NotImplementedError

    # ---- state ----
    def state_dict(self):
        """{"state": {index: {name: array or number}}, "param_groups": [{hyperparameters, "params": [index]}]}
        with parameters numbered in group order, as in PyTorch. Arrays are copied to the CPU."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for pid, i in index.items():
            if pid in self.state:
                state[i] = {k: (backends.to_device(v, "cpu").copy() if hasattr(v, "shape") else v)
                            for k, v in self.state[pid].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(groups)} parameter groups in the state "
                             f"dict, {len(self.param_groups)} in the optimizer")
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a group with {len(saved['params'])} "
                                 f"parameters in the state dict has {len(own['params'])} in the optimizer")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                by_index[int(i)] = p
        self.state = {}
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[id(p)] = {k: _scalar(v) if k in self.scalar_state else
                                 backends.to_device(np.array(v, dtype=p.dtype), p.device) for k, v in values.items()}
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _scalar(v):
    """0-d arrays (as a checkpoint returns them) back to Python numbers."""
    return v.item() if hasattr(v, "item") else v


def _check(name, value, low=0.0):
    if not value >= low:
        raise ValueError(f"invalid {name}: {value}")
