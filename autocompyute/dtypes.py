"""dtypes are numpy dtypes; float32 is the default floating-point type."""
import numpy as np

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32, int64, uint8 = (np.dtype(n) for n in ("int8", "int16", "int32", "int64", "uint8"))
bool_ = np.dtype("bool")
default_float = float32

_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32, "bool": bool_}


def as_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    return np.dtype(dtype)


def is_floating(dtype):
    return np.dtype(dtype).kind == "f"


def infer_dtype(value):
    """The dtype `ac.tensor(value)` gives: arrays keep theirs, Python floats give float32, ints int64."""
    if hasattr(value, "dtype"):
        return np.dtype(value.dtype)
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return default_float
    if arr.dtype.kind in "iu":
        return int64
    return arr.dtype
