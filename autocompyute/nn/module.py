"""`Module` and `Parameter`: the containers models are built from, with PyTorch's names and semantics."""
from collections import OrderedDict

import numpy as np

from .. import backends
from ..dtypes import as_dtype, default_float
from ..errors import StateDictError
from ..tensor import Tensor, to_arguments


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable: requires_grad is on unless asked otherwise."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def empty_parameter(shape, device=None, dtype=None, fill=0.0):
    """A Parameter filled with `fill` on `device`, for a reset_parameters() to initialise (nn.init draws on the CPU
    and puts the values on the parameter's device)."""
    return Parameter(backends.to_device(np.full(shape, fill, as_dtype(dtype) or default_float), device or "cpu"))


class Module:
    """Base class of layers and models. Attributes that are Parameters, Modules or registered buffers are
    tracked in order, so `named_parameters()` and `state_dict()` list them as PyTorch would."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(table)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """A non-trainable tensor that is part of the state (BatchNorm's running statistics)."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        self._buffers[name] = tensor
        self.__dict__.pop(name, None)

    def register_parameter(self, name, param):
        if param is None:
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name, module):
        self._modules[name] = module

    # ---- traversal ----
    def named_modules(self, prefix=""):
        """Depth-first, in registration order, as PyTorch lists them (and so orders parameters)."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named(self, table, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in mods:
            for name, t in getattr(m, table).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self, prefix="", recurse=True):
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ---- modes and grads ----
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad_(flag)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else p.grad * 0

    def apply(self, fn):
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    def to(self, *args, dtype=None, device=None):
        """Move or cast every parameter and buffer in place (floating-point ones only for a dtype)."""
        dtype, device = to_arguments(args, dtype, device)
        dtype = as_dtype(dtype)
        for t in list(self.parameters()) + [b for b in self.buffers() if isinstance(b, Tensor)]:
            data = t.data
            if dtype is not None and data.dtype.kind == "f":
                data = data.astype(dtype)
            if device is not None:
                data = backends.to_device(data, device)
            t.data = data
            if t.grad is not None:
                t.grad = None
        return self

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def cuda(self):
        return self.to(device="cuda")

    def cpu(self):
        return self.to(device="cpu")

    # ---- state ----
    def state_dict(self):
        """Name -> Tensor (detached, sharing memory) for every parameter and persistent buffer."""
        return OrderedDict((k, t.detach()) for k, t in self._state_tensors())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in. With strict (the default), missing or unexpected keys and any shape or dtype
        mismatch raise StateDictError naming every problem; nothing is changed then."""
        own = dict(self._state_tensors())
        problems, updates = [], []
        missing = [k for k in own if k not in state_dict]
        extra = [k for k in state_dict if k not in own]
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and extra:
            problems.append(f"unexpected keys: {extra}")
        for k, target in own.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            if tuple(arr.shape) != tuple(target.shape):
                problems.append(f"{k}: shape {tuple(arr.shape)} in the state dict, {tuple(target.shape)} in the model")
            elif arr.dtype != target.dtype:
                problems.append(f"{k}: dtype {arr.dtype} in the state dict, {target.dtype} in the model")
            else:
                updates.append((k, arr))
        if problems:
            raise StateDictError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for k, arr in updates:
            t = own[k]
            t.data = backends.to_device(arr, t.device).copy()
        return missing, extra

    def _state_tensors(self):
        """(name, Tensor) of every parameter and persistent buffer, in state-dict order."""
        for mod_name, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", set())
            for table in (m._parameters, m._buffers):
                for name, t in table.items():
                    if t is not None and name not in skip:
                        yield (f"{mod_name}.{name}" if mod_name else name), t

    # ---- calling and printing ----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        self.add_module(name, module)

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
