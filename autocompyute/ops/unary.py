"""Elementwise functions of one tensor, and casts."""
import math

from .. import backends
from ..parallel import parallel_for
from ..dtypes import as_dtype
from .base import Op


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, dy):
        return (-dy,)


class Abs(Op):
    def forward(self, x):
        self.save(sign=self.xp.sign(x))
        return self.xp.abs(x)

    def backward(self, dy):
        return (dy * self.saved.sign,)


class Exp(Op):
    """y = exp(x)"""
    def forward(self, x):
        y = self.xp.exp(x)
        self.save(y=y)
        return y

    def backward(self, dy):
        return (dy * self.saved.y,)


class Log(Op):
    def forward(self, x):
        self.save(x=x)
        return self.xp.log(x)

    def backward(self, dy):
        return (dy / self.saved.x,)


class Sqrt(Op):
    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save(y=y)
        return y

    def backward(self, dy):
        return (dy / (2 * self.saved.y),)


class Rsqrt(Op):
    """y = 1 / sqrt(x)"""
    def forward(self, x):
        y = 1 / self.xp.sqrt(x)
        self.save(y=y)
        return y

    def backward(self, dy):
        y = self.saved.y
        return (dy * -0.5 * y * y * y,)


class Sin(Op):
    def forward(self, x):
        self.save(x=x)
        return self.xp.sin(x)

    def backward(self, dy):
        return (dy * self.xp.cos(self.saved.x),)


class Cos(Op):
    def forward(self, x):
        self.save(x=x)
        return self.xp.cos(x)

    def backward(self, dy):
        return (-dy * self.xp.sin(self.saved.x),)


class Tanh(Op):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save(y=y)
        return y

    def backward(self, dy):
        y = self.saved.y
        return (dy * (1 - y * y),)


def _sigmoid(xp, x):
    # exp of -|x| only: no overflow, full relative precision for large negative x
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(xp, x):
    """log(1 + exp(x)) without overflow, and exact for large negative x."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Sigmoid(Op):
    def forward(self, x):
        y = _sigmoid(self.xp, x).astype(x.dtype, copy=False)
        self.save(y=y)
        return y

    def backward(self, dy):
        y = self.saved.y
        return (dy * y * (1 - y),)


class Relu(Op):
    """max(x, 0); contiguous arrays are split over the intra-op threads."""
    def forward(self, x):
        xp = self.xp
        if self.needs_grad:
            self.save(mask=x > 0)
        if not x.flags.c_contiguous:
            return backends.maximum_scalar(xp, x, 0)
        y = xp.empty_like(x)
        flat, flat_y = x.reshape(-1), y.reshape(-1)
        parallel_for(xp, flat.size, lambda part: backends.maximum_scalar(xp, flat[part], 0, out=flat_y[part]),
                     flat.size)
        return y

    def backward(self, dy):
        xp, mask = self.xp, self.saved.mask
        if not dy.flags.c_contiguous:
            return (dy * mask,)
        dx = xp.empty(dy.shape, dtype=dy.dtype)
        flat, flat_mask, flat_dx = dy.reshape(-1), mask.reshape(-1), dx.reshape(-1)
        parallel_for(xp, flat.size, lambda part: xp.multiply(flat[part], flat_mask[part], out=flat_dx[part]),
                     flat.size)
        return (dx,)


class LeakyRelu(Op):
    """y = x if x > 0 else negative_slope * x"""
    def forward(self, x):
        mask = x > 0
        self.save(mask=mask)
        return self.xp.where(mask, x, x * self.negative_slope)

    def backward(self, dy):
        return (self.xp.where(self.saved.mask, dy, dy * self.negative_slope),)


class Gelu(Op):
    """x * Phi(x), exactly (approximate="none") or with the tanh formula (approximate="tanh")."""
    def forward(self, x):
        xp = self.xp
        self.save(x=x)
        if self.approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
            t = xp.tanh(inner)
            self.save(t=t)
            return 0.5 * x * (1 + t)
        cdf = backends.erf(xp, x * (1 / math.sqrt(2)))                     # Phi(x) = (1 + erf(x / sqrt 2)) / 2
        cdf += 1
        cdf *= 0.5
        if not self.needs_grad:                                             # no backward: y in Phi's buffer
            cdf *= x
            return cdf
        self.save(cdf=cdf)
        return x * cdf

    def backward(self, dy):
        xp, x = self.xp, self.saved.x
        if self.approximate == "tanh":
            t = self.saved.t
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return (dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
        g = xp.square(x, out=xp.empty_like(x))                              # dy * (Phi(x) + x * phi(x)), in place
        g *= -0.5
        xp.exp(g, out=g)
        g *= x
        g *= 1 / math.sqrt(2 * math.pi)
        g += self.saved.cdf
        g *= dy
        return (g,)


class Silu(Op):
    """y = x * sigmoid(x)"""
    def forward(self, x):
        s = _sigmoid(self.xp, x).astype(x.dtype, copy=False)
        self.save(x=x, s=s)
        return x * s

    def backward(self, dy):
        x, s = self.saved.x, self.saved.s
        return (dy * s * (1 + x * (1 - s)),)


class Softplus(Op):
    """y = log(1 + exp(beta * x)) / beta, and y = x where beta * x > threshold."""
    def forward(self, x):
        xp = self.xp
        z = x * self.beta
        self.save(z=z)
        soft = _softplus(xp, z) / self.beta
        return xp.where(z > self.threshold, x, soft)

    def backward(self, dy):
        z = self.saved.z
        return (dy * self.xp.where(z > self.threshold, 1, _sigmoid(self.xp, z)),)


class Erf(Op):
    def forward(self, x):
        self.save(x=x)
        return backends.erf(self.xp, x)

    def backward(self, dy):
        x = self.saved.x
        return (dy * (2 / math.sqrt(math.pi)) * self.xp.exp(-x * x),)


class Clamp(Op):
    """y = min(max(x, min), max); either bound may be None. The gradient passes where min <= x <= max."""
    def forward(self, x):
        xp = self.xp
        lo = -xp.inf if self.min is None else self.min
        hi = xp.inf if self.max is None else self.max
        self.save(mask=(x >= lo) & (x <= hi))
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, dy):
        return (dy * self.saved.mask,)


class Cast(Op):
    """Change dtype; the gradient is cast back (and dropped for non-float sources)."""
    def forward(self, x):
        self.save(src=x.dtype)
        return x.astype(self.dtype)

    def backward(self, dy):
        src = self.saved.src
        return (dy.astype(src) if src.kind == "f" else None,)


class ToDevice(Op):
    """Move between "cpu" (numpy) and "cuda" (cupy); the gradient moves back."""
    def forward(self, x):
        self.save(src=backends.device_of(x))
        return backends.to_device(x, self.device)

    def backward(self, dy):
        return (backends.to_device(dy, self.saved.src),)


# ---- user-facing functions ----
def neg(x): return Neg.apply(x)
def abs(x): return Abs.apply(x)  # noqa: A001
def exp(x): return Exp.apply(x)
def log(x): return Log.apply(x)
def sqrt(x): return Sqrt.apply(x)
def rsqrt(x): return Rsqrt.apply(x)
def sin(x): return Sin.apply(x)
def cos(x): return Cos.apply(x)
def tanh(x): return Tanh.apply(x)
def sigmoid(x): return Sigmoid.apply(x)
def relu(x): return Relu.apply(x)
def erf(x): return Erf.apply(x)
def silu(x): return Silu.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(x, negative_slope=float(negative_slope))


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate=approximate)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def clamp(x, min=None, max=None):  # noqa: A002
    return Clamp.apply(x, min=None if min is None else float(min), max=None if max is None else float(max))


def relu6(x):
    return clamp(x, 0.0, 6.0)


def cast(x, dtype):
    return Cast.apply(x, dtype=as_dtype(dtype))


def to_device(x, device):
    return ToDevice.apply(x, device=backends.parse_device(device))
