"""`Op`: one operation with its forward and backward, and the machinery that links it into the graph."""
import weakref

import numpy as np

from .. import autograd, backends
from ..dtypes import default_float
from ..errors import DeviceError


class Saved(dict):
    """Values a forward keeps for its backward, read back by name: `self.saved.y`."""
    __getattr__ = dict.__getitem__


class Op:
    """Subclasses write `forward(*arrays) -> array | tuple` and `backward(*dys) -> tuple of arrays or None`.

    Attributes (axis, stride, ...) are keyword arguments of `apply` and live on the instance, where the backward
    and the ONNX exporter read them. `self.xp` is the array module (numpy or cupy) of the inputs.
    """

    n_outputs = 1
    differentiable = True  # False for comparisons, argmax and the like: their outputs never need grad
    needs_grad = True  # set by `apply` before the forward: False when no backward will run (skip saving then)

    def __init__(self, xp, **attrs):
        self.xp = xp
        self.__dict__.update(attrs)
        self.saved = Saved()

    def save(self, **values):
        self.saved.update(values)

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *dys):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def input_needs_grad(self, i):
        """Whether the backward's gradient for input i is wanted (skip the work for a frozen weight, a first
        layer's data)."""
        return self.inputs[i].requires_grad

    @property
    def attrs(self):
        """The op's attributes, as passed to apply (what an exporter needs)."""
        skip = {"xp", "saved", "inputs", "outputs", "out_meta", "needs_grad"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.attrs.items())})"

    @classmethod
    def apply(cls, *inputs, **attrs):
        from ..tensor import Tensor

        tensors = _as_tensors(inputs, cls.__name__)
        xp = tensors[0].xp
        op = cls(xp, **attrs)
        needs_grad = cls.differentiable and autograd.grad_enabled() and any(t.requires_grad for t in tensors)
        op.needs_grad = needs_grad
        out = op.forward(*(t.data for t in tensors))
        link = needs_grad or autograd.recording()
        if not needs_grad:
            op.saved = Saved() if link else None
        outs = out if isinstance(out, tuple) else (out,)
        results = tuple(Tensor._from_op(backends.as_array(xp, o),
                                        op if link else None, i, needs_grad) for i, o in enumerate(outs))
        if link:
            op.n_outputs = len(results)
            op.inputs = tensors
            op.outputs = [weakref.ref(r) for r in results]
            op.out_meta = [(r.shape, r.dtype) for r in results]
        return results[0] if len(results) == 1 and not isinstance(out, tuple) else results


def _as_tensors(inputs, op_name):
    """Tensors stay; Python scalars take the dtype of the first tensor (floats promote integer tensors).

    All tensors must live on one device; as in PyTorch, a 0-d tensor follows the others (through ToDevice, so
    its gradient flows back). Anything else on another device is a DeviceError naming the op.
    """
    from ..tensor import Tensor

    tensors = [x for x in inputs if isinstance(x, Tensor)]
    first = next((t for t in tensors if t.dtype.kind != "b"), tensors[0] if tensors else None)
    if first is None:
        return tuple(Tensor(x) for x in inputs)
    home = next((t for t in tensors if t.ndim), first)
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            if type(x.data) is not type(home.data):
                if x.ndim:
                    raise DeviceError(f"{op_name}: inputs on different devices ({home.device} and {x.device}); "
                                      "move them with .to(device) first")
                x = x.to(home.device)
            out.append(x)
        elif isinstance(x, (bool, int, float)):
            dtype = first.dtype
            if isinstance(x, float) and dtype.kind != "f":
                dtype = default_float
            out.append(Tensor(home.xp.asarray(x, dtype=dtype)))
        else:
            out.append(Tensor(backends.to_device(x, home.device) if hasattr(x, "dtype") else home.xp.asarray(x)))
    return tuple(out)
