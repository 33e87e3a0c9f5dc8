"""`Tensor`: an array, its gradient, and the op that made it."""
import numpy as np

from . import autograd, backends
from .dtypes import as_dtype, default_float, infer_dtype, is_floating
from .errors import DTypeError


class Tensor:
    """An n-dimensional array on "cpu" (numpy) or "cuda" (cupy) that records the ops applied to it.

    `data` is the array, `grad` its gradient (None until backward), `ctx` the Op that produced it (None for
    leaves), `parents` that op's inputs.
    """

    __slots__ = ("data", "grad", "ctx", "out_index", "requires_grad", "_retains_grad", "name", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.data
        dtype = as_dtype(dtype)
        xp = backends.xp_for(device) if device is not None else backends.xp_of(data) if hasattr(data, "dtype") else np
        if dtype is None and not hasattr(data, "dtype"):
            dtype = infer_dtype(data)
        if device is not None:
            data = backends.to_device(data, device) if hasattr(data, "dtype") else data
        data = xp.asarray(data, dtype=dtype)
        if data.dtype.kind in "OSUMm":  # objects, strings, dates: nothing an op can compute on
            raise DTypeError(f"tensors hold numbers, not {data.dtype} values")
        self.data = data
        self.grad = None
        self.ctx = None
        self.out_index = 0
        self._retains_grad = False
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data, ctx, out_index, requires_grad):
        t = cls.__new__(cls)
        t.data, t.grad, t.ctx, t.out_index = data, None, ctx, out_index
        t.requires_grad, t._retains_grad, t.name = requires_grad, False, None
        return t

    # ---- properties ----
    @property
    def parents(self):
        return self.ctx.inputs if self.ctx is not None else ()

    @property
    def xp(self):
        return backends.xp_of(self.data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backends.device_of(self.data)

    @property
    def is_leaf(self):
        return self.ctx is None or not self.requires_grad

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", threshold=100, precision=4)
        extra = ""
        if self.dtype != default_float and self.dtype != np.int64 and self.dtype != np.bool_:
            extra += f", dtype={self.dtype}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.ctx is not None and self.requires_grad:
            extra += f", grad_fn=<{type(self.ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion ----
    def numpy(self):
        return backends.to_device(self.data, "cpu")

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        return Tensor._from_op(self.data, None, 0, False)

    def requires_grad_(self, flag=True):
        if flag and not is_floating(self.dtype):
            raise DTypeError(f"only floating-point tensors can require grad, not {self.dtype}")
        self.requires_grad = flag
        return self

    def retain_grad(self):
        self._retains_grad = True
        return self

    def to(self, *args, dtype=None, device=None):
        dtype, device = to_arguments(args, dtype, device)
        out = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            out = F.cast(out, dtype)
        if device is not None and backends.parse_device(device) != self.device:
            out = F.to_device(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def type(self, dtype):
        return self.to(dtype=dtype)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def half(self):
        return self.to(dtype=np.float16)

    def long(self):
        return self.to(dtype=np.int64)

    def int(self):
        return self.to(dtype=np.int32)

    def bool(self):
        return self.to(dtype=np.bool_)

    # ---- autograd ----
    def backward(self, gradient=None, retain_graph=False):
        autograd.backward(self, gradient, retain_graph)

    def _accumulate(self, g):
        # a fresh array: backward may hand out read-only broadcast views, or one array to several inputs
        self.grad = g.copy() if self.grad is None else self.grad + g

    def zero_grad_(self):
        self.grad = None

    # ---- operators ----
    def __add__(self, o): return F.add(self, o)
    def __radd__(self, o): return F.add(o, self)
    def __sub__(self, o): return F.sub(self, o)
    def __rsub__(self, o): return F.sub(o, self)
    def __mul__(self, o): return F.mul(self, o)
    def __rmul__(self, o): return F.mul(o, self)
    def __truediv__(self, o): return F.div(self, o)
    def __rtruediv__(self, o): return F.div(o, self)
    def __pow__(self, o): return F.pow(self, o)
    def __rpow__(self, o): return F.pow(o, self)
    def __matmul__(self, o): return F.matmul(self, o)
    def __rmatmul__(self, o): return F.matmul(o, self)
    def __neg__(self): return F.neg(self)
    def __abs__(self): return F.abs(self)
    def __eq__(self, o): return F.eq(self, o)
    def __ne__(self, o): return F.ne(self, o)
    def __lt__(self, o): return F.lt(self, o)
    def __le__(self, o): return F.le(self, o)
    def __gt__(self, o): return F.gt(self, o)
    def __ge__(self, o): return F.ge(self, o)
    def __and__(self, o): return F.logical_and(self, o)
    def __or__(self, o): return F.logical_or(self, o)
    def __xor__(self, o): return F.logical_xor(self, o)
    def __invert__(self): return F.logical_not(self)
    def __getitem__(self, index): return F.getitem(self, index)
    __hash__ = object.__hash__

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())
    def __index__(self): return int(self.item())

    # ---- methods: thin names over autocompyute.functional ----
    def add(self, o): return F.add(self, o)
    def sub(self, o): return F.sub(self, o)
    def mul(self, o): return F.mul(self, o)
    def div(self, o): return F.div(self, o)
    def pow(self, o): return F.pow(self, o)
    def neg(self): return F.neg(self)
    def abs(self): return F.abs(self)
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def rsqrt(self): return F.rsqrt(self)
    def sin(self): return F.sin(self)
    def cos(self): return F.cos(self)
    def tanh(self): return F.tanh(self)
    def sigmoid(self): return F.sigmoid(self)
    def relu(self): return F.relu(self)
    def erf(self): return F.erf(self)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)
    clip = clamp
    def maximum(self, o): return F.maximum(self, o)
    def minimum(self, o): return F.minimum(self, o)
    def where(self, condition, other): return F.where(condition, self, other)
    def matmul(self, o): return F.matmul(self, o)
    def eq(self, o): return F.eq(self, o)
    def ne(self, o): return F.ne(self, o)
    def lt(self, o): return F.lt(self, o)
    def le(self, o): return F.le(self, o)
    def gt(self, o): return F.gt(self, o)
    def ge(self, o): return F.ge(self, o)
    def logical_and(self, o): return F.logical_and(self, o)
    def logical_or(self, o): return F.logical_or(self, o)
    def logical_xor(self, o): return F.logical_xor(self, o)
    def logical_not(self): return F.logical_not(self)

    def sum(self, dim=None, keepdim=False, dtype=None): return F.sum(self, dim, keepdim, dtype=dtype)
    def mean(self, dim=None, keepdim=False): return F.mean(self, dim, keepdim)
    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return F.var(self, dim, keepdim, correction=correction, unbiased=unbiased)
    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return F.std(self, dim, keepdim, correction=correction, unbiased=unbiased)
    def max(self, dim=None, keepdim=False): return F.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return F.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return F.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return F.argmin(self, dim, keepdim)
    def prod(self, dim=None, keepdim=False): return F.prod(self, dim, keepdim)
    def logsumexp(self, dim, keepdim=False): return F.logsumexp(self, dim, keepdim)
    def softmax(self, dim): return F.softmax(self, dim)
    def log_softmax(self, dim): return F.log_softmax(self, dim)
    def cumsum(self, dim): return F.cumsum(self, dim)

    def reshape(self, *shape): return F.reshape(self, _shape_args(shape))
    view = reshape
    def permute(self, *dims): return F.permute(self, _shape_args(dims))
    def transpose(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    def expand(self, *sizes): return F.expand(self, _shape_args(sizes))
    def expand_as(self, other): return F.expand(self, other.shape)
    def squeeze(self, dim=None): return F.squeeze(self, dim)
    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def split(self, split_size_or_sections, dim=0): return F.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)
    def gather(self, dim, index): return F.gather(self, dim, index)
    def scatter_add(self, dim, index, src): return F.scatter_add(self, dim, index, src)
    def flip(self, dims): return F.flip(self, dims)
    def repeat(self, *sizes): return F.repeat(self, _shape_args(sizes))
    def tile(self, *sizes): return F.tile(self, _shape_args(sizes))
    def tril(self, diagonal=0): return F.tril(self, diagonal)
    def triu(self, diagonal=0): return F.triu(self, diagonal)
    def masked_fill(self, mask, value): return F.masked_fill(self, mask, value)
    def contiguous(self): return self


def to_arguments(args, dtype=None, device=None):
    """(dtype, device) from `.to(...)`'s positional arguments, as PyTorch takes them: a name that is not a dtype
    is a device (an unknown one is reported by backends.parse_device)."""
    for a in args:
        if isinstance(a, str) and not _is_dtype_name(a):
            device = backends.parse_device(a)
        else:
            dtype = a
    return dtype, device


def _is_dtype_name(name):
    try:
        as_dtype(name)
        return True
    except TypeError:
        return False


def _shape_args(args):
    """Accept both `x.reshape(2, 3)` and `x.reshape((2, 3))`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# ---- creation ----
def tensor(data, dtype=None, device=None, requires_grad=False):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _make(fill, shape, dtype, device, requires_grad):
    dtype = as_dtype(dtype) or default_float
    xp = backends.xp_for(device or "cpu")
    if device is not None and backends.parse_device(device) == "cuda" and not backends.cuda_available():
        backends.to_device(np.zeros(()), "cuda")  # raises a clear DeviceError
    t = Tensor(fill(xp, _shape_args(shape), dtype))
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.zeros(s, d), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.ones(s, d), shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), (shape,), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else default_float
    return _make(lambda xp, s, d: xp.arange(start, end, step, dtype=d), (), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def _random(method, shape, dtype, device, requires_grad, **kw):
    device = device or "cpu"
    dtype = as_dtype(dtype) or default_float

    def fill(xp, s, d):
        return backends.to_device(getattr(backends.rng("cpu"), method)(size=s, **kw), device).astype(d)
    return _make(fill, shape, dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    return _random("random", shape, dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    return _random("standard_normal", shape, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return _random("integers", (tuple(size),), dtype or np.int64, device, False, low=low, high=high)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def randint_like(t, low, high=None, dtype=None):
    return randint(low, high, t.shape, dtype=dtype or t.dtype, device=t.device)


def manual_seed(seed):
    """Seed every random source of the engine (creation functions, dropout, init) for reproducible runs."""
    backends.manual_seed(seed)


from . import functional as F  # noqa: E402  (functional imports the ops, which import Tensor lazily)
