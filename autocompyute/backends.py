"""Everything that differs between numpy and cupy lives here.

The array module (`xp`) of a tensor is numpy on "cpu" and cupy on "cuda"; ops get it from their inputs.
"""
import ctypes
import math
import os
import platform

import numpy as np

from .errors import DeviceError

try:  # optional: the `cuda` extra
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

DEVICES = ("cpu", "cuda")


# glibc's allocator settings of `tune_allocator` (also what MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ set)
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 256 << 20


def tune_allocator():
    """Keep large freed arrays in the process (glibc only) instead of returning them to the system at once.

    Eager autograd frees and reallocates the same large temporaries every step; with glibc's defaults each of
    them comes back as fresh pages that fault in again, about 30% of a small model's step time. Set
    AUTOCOMPYUTE_MALLOC_TUNING=0 to leave the allocator alone. Returns whether the settings were applied.
    """
    if os.environ.get("AUTOCOMPYUTE_MALLOC_TUNING", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD) == 1  # arrays under 32 MiB come from the heap ...
    ok &= libc.mallopt(m_trim_threshold, TRIM_THRESHOLD) == 1  # ... which keeps up to 256 MiB of freed memory
    return bool(ok)


MALLOC_TUNED = tune_allocator()


def cuda_available():
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        return False


def xp_of(array):
    """numpy or cupy, whichever owns `array`."""
    if type(array) is np.ndarray or cupy is None:
        return np
    return cupy.get_array_module(array)


_ARRAY_TYPES = (np.ndarray,) if cupy is None else (np.ndarray, cupy.ndarray)


def as_array(xp, value):
    """`value` as an array: numpy and cupy arrays stay as they are (an op may return either, like ToDevice);
    scalars that numpy returns for 0-d results become 0-d arrays of `xp`."""
    return value if isinstance(value, _ARRAY_TYPES) else xp.asarray(value)


def device_of(array):
    return "cpu" if xp_of(array) is np else "cuda"


def parse_device(device):
    name = str(device).split(":")[0]
    if name not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; expected one of {DEVICES}")
    return name


def to_device(array, device):
    device = parse_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return cupy.asnumpy(array)
    if not cuda_available():
        why = "CuPy is not installed (pip install 'autocompyute[cuda]')" if cupy is None else "no CUDA GPU is visible"
        raise DeviceError(f"cannot move a tensor to 'cuda': {why}")
    return cupy.asarray(array)


def xp_for(device):
    return np if parse_device(device) == "cpu" else cupy


def scatter_add(xp, target, index, values):
    """target[index] += values, adding repeated indices (np.add.at / cupyx.scatter_add)."""
    if xp is np or hasattr(xp.add, "at"):  # cupy >= 13 has add.at
        xp.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


_erf_exact = np.frompyfunc(math.erf, 1, 1)


def erf(xp, x):
    """The error function. float64 is exact; float32 a rational approximation (abs. error < 1e-6 after rounding)."""
    if xp is not np:
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    if x.dtype == np.float64:
        return np.asarray(_erf_exact(x), dtype=np.float64)              # (an array also for 0-d x)
    # Abramowitz & Stegun 7.1.26, in the input's own precision (its error is below float32's resolution):
    # erf(a) = 1 - t * poly(t) * exp(-a^2), t = 1 / (1 + p a), for a = |x|; evaluated in place in three arrays
    p, *coef = (0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
    a, t, poly = np.empty_like(x), np.empty_like(x), np.empty_like(x)   # (arrays also for 0-d x)
    np.abs(x, out=a)
    np.multiply(a, p, out=t)
    t += 1
    np.divide(1, t, out=t)                                              # (numpy's reciprocal is slower)
    np.multiply(t, coef[-1], out=poly)
    for c in reversed(coef[:-1]):                                       # Horner: poly = (poly + c) * t
        poly += c
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a                                                           # 1 - erf(|x|)
    np.subtract(1, poly, out=poly)                                      # erf(|x|) >= 0: x's sign bit is OR-ed in
    bits = poly.view(np.dtype(f"i{x.itemsize}"))                        # (np.copysign is several times slower)
    sign = np.bitwise_and(x.view(bits.dtype), np.array(1 << 8 * x.itemsize - 1, dtype=f"u{x.itemsize}")
                          .view(bits.dtype), out=a.view(bits.dtype))
    np.bitwise_or(bits, sign, out=bits)
    return poly


# ---- random numbers: one generator per backend, reseeded together by manual_seed ----
_rng = {"cpu": np.random.default_rng()}


def manual_seed(seed):
    _rng["cpu"] = np.random.default_rng(seed)
    if cupy is not None and cuda_available():
        _rng["cuda"] = cupy.random.default_rng(seed)


def rng(device="cpu"):
    device = parse_device(device)
    if device not in _rng:
        _rng["cuda"] = cupy.random.default_rng()
    return _rng[device]


# numpy reduces along a short last axis (softmax over 64 keys, say) one row at a time: a sum there is a
# matrix-vector product with ones (about 6x faster), a max a few elementwise maxima of halves (about 1.4x)
def last_axis_sum(xp, x):
    """x summed over its last axis, kept as a size-1 dim; float32/float64 as a matrix-vector product."""
    if x.dtype.char not in "fd" or x.ndim == 0 or x.shape[-1] == 0:
        return x.sum(axis=-1, keepdims=True)
    return (x @ xp.ones(x.shape[-1], dtype=x.dtype))[..., None]


def extreme_identity(dtype, largest):
    """The maximum (largest) or minimum of no values of `dtype`: -inf/inf for floats, the type's own least/most for
    integers, False/True for booleans."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return not largest
    if dtype.kind in "iu":
        return np.iinfo(dtype).min if largest else np.iinfo(dtype).max
    return -np.inf if largest else np.inf


def last_axis_max(xp, x):
    """The maximum over x's last axis, kept as a size-1 dim (NaN propagates, as in x.max): the elementwise maximum
    of the two (overlapping, for an odd length) halves, until one element is left."""
    if x.ndim and x.shape[-1] == 0:  # (an empty row's maximum: the identity, -inf for floats)
        return xp.full(x.shape[:-1] + (1,), extreme_identity(x.dtype, largest=True), x.dtype)
    if xp is not np or x.dtype.kind != "f" or x.ndim == 0 or not 16 <= x.shape[-1] <= 4096:
        return x.max(axis=-1, keepdims=True)
    while x.shape[-1] > 1:
        n = x.shape[-1]
        x = np.maximum(x[..., :n - n // 2], x[..., n // 2:])
    return x


# numpy's maximum against a scalar runs element by element, several times slower than against an array of the
# same values: large contiguous arrays are compared row by row against a row of this length instead
_MAXIMUM_ROW = 1 << 14


def maximum_scalar(xp, x, value, out=None):
    """max(x, value) elementwise, NaN kept (ReLU is maximum_scalar(xp, x, 0)), into `out` or a new array."""
    if xp is not np or x.size < _MAXIMUM_ROW or not (x.flags.c_contiguous or x.flags.f_contiguous):
        return xp.maximum(x, value, out=out)
    if not x.flags.c_contiguous:
        return maximum_scalar(xp, x.T, value, None if out is None else out.T).T
    row = np.full(_MAXIMUM_ROW, value, dtype=x.dtype)
    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    flat, flat_out = x.reshape(-1), out.reshape(-1)  # (out: contiguous like x)
    whole = flat.size - flat.size % _MAXIMUM_ROW
    np.maximum(flat[:whole].reshape(-1, _MAXIMUM_ROW), row, out=flat_out[:whole].reshape(-1, _MAXIMUM_ROW))
    np.maximum(flat[whole:], row[:flat.size - whole], out=flat_out[whole:])
    return out


def as_strided(xp, x, shape, strides):
    """A read-only view of `x` with the given shape and byte strides (sliding windows for conv and pooling)."""
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return cupy.lib.stride_tricks.as_strided(x, shape, strides)
