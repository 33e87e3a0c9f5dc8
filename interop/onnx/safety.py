"""Loading ONNX files as untrusted input.

Everything an ONNX file declares is checked before memory is allocated or a file is opened: tensor sizes
against their dims and a byte limit, external-data locations against the model's folder (no absolute paths,
no `..`, no symlinks, offsets and lengths inside the file), the keys of external-data entries. Parsing is
protobuf only (nothing is unpickled, nothing is fetched from the network). Errors are typed
(interop.errors): OnnxImportError for corrupt files, UnsafeModelError for refused requests.
"""
import os

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, TensorProto, numpy_helper

from ..errors import OnnxImportError, UnsafeModelError

# Adjustable limits: the largest tensor (in bytes) a file may declare or a node may allocate, the most iterations
# the Loops and Scans of one model run may run all together (nested ones included), the most nodes a model may
# expand to (function calls compile their body each time), and the longest axis Resize's general form may
# produce (its interpolation weights are worked out one output at a time, about 20 us each).
LIMITS = {"max_tensor_bytes": 4 << 30, "max_loop_iterations": 1_000_000, "max_compiled_nodes": 2_000_000,
          "max_interpolated_axis": 1 << 17}
MAX_DIM = 1 << 40  # no single dimension is longer, whatever the others

_NUMPY_DTYPES = {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16,
    TensorProto.INT8: np.int8, TensorProto.INT16: np.int16, TensorProto.INT32: np.int32, TensorProto.INT64: np.int64,
    TensorProto.UINT8: np.uint8, TensorProto.UINT16: np.uint16, TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64, TensorProto.BOOL: np.bool_,
}
# the repeated field that holds each type's values when raw_data is not used
_TYPED_FIELD = {
    TensorProto.FLOAT: "float_data", TensorProto.DOUBLE: "double_data", TensorProto.INT64: "int64_data",
    TensorProto.UINT32: "uint64_data", TensorProto.UINT64: "uint64_data",
}
_EXTERNAL_KEYS = {"location", "offset", "length", "checksum"}


def numpy_dtype(elem_type, what="tensor"):
    """The numpy dtype of an ONNX element type, or UnsafeModelError/OnnxImportError for ones we don't read."""
    try:
        return np.dtype(_NUMPY_DTYPES[elem_type])
    except KeyError:
        name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else elem_type
        raise OnnxImportError(f"{what}: element type {name} is not supported") from None


def onnx_elem_type(dtype):
    for k, v in _NUMPY_DTYPES.items():
        if np.dtype(v) == np.dtype(dtype):
            return k
    raise OnnxImportError(f"dtype {dtype} has no ONNX element type here")


# ---- parsing ----
def load_model(model, base_dir=None):
    """(ModelProto, base_dir) from a path, bytes or ModelProto, without reading any external data yet.

    A path gives its folder as base_dir (unless one is passed); bytes and protos have none unless passed.
    """
    if isinstance(model, onnx.ModelProto):
        proto = onnx.ModelProto()
        proto.CopyFrom(model)  # we rewrite tensors in place later: never the caller's object
        return proto, base_dir
    if isinstance(model, (bytes, bytearray, memoryview)):
        return _parse(bytes(model), "bytes"), base_dir
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise OnnxImportError(f"no ONNX file at {path!r}")
        with open(path, "rb") as f:
            data = f.read()
        return _parse(data, path), base_dir if base_dir is not None else os.path.dirname(os.path.abspath(path))
    if hasattr(model, "read"):
        return _parse(model.read(), "file object"), base_dir
    raise OnnxImportError(f"import_onnx takes a path, bytes or onnx.ModelProto, not {type(model).__name__}")


def _parse(data, what):
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise OnnxImportError(f"{what}: not a readable ONNX model (truncated or corrupt file): {e}") from None
    if not proto.HasField("graph") or not proto.opset_import:
        raise OnnxImportError(f"{what}: not a readable ONNX model (no graph or no opset_import: truncated, "
                              "corrupt, or not an ONNX file)")
    return proto


# ---- sizes ----
def check_alloc(shape, dtype, what):
    """Refuse, before allocating, a tensor of `shape` that is negative or larger than the byte limit."""
    n = 1
    for d in shape:
        d = int(d)
        if d < 0:
            raise UnsafeModelError(f"{what}: negative dimension in shape {tuple(int(s) for s in shape)}")
        if d > MAX_DIM:  # (even beside a zero: numpy cannot describe such a shape)
            raise UnsafeModelError(f"{what}: dimension {d:,} in shape {tuple(int(s) for s in shape)} is over the "
                                   f"limit of {MAX_DIM:,} for one dimension")
        n *= d
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes > LIMITS["max_tensor_bytes"]:
        raise UnsafeModelError(f"{what}: a tensor of shape {tuple(int(s) for s in shape)} "
                               f"({np.dtype(dtype).name}) would take "
                               f"{nbytes:,} bytes, over the limit of {LIMITS['max_tensor_bytes']:,} "
                               "(interop.onnx.safety.LIMITS['max_tensor_bytes'])")
    return n


def tensor_to_array(t, base_dir=None, what=None):
    """A TensorProto as a writable numpy array, after checking its declared size against its data."""
    what = what or f"tensor {t.name!r}"
    if t.HasField("segment"):
        raise OnnxImportError(f"{what}: segmented tensors are not supported")
    dtype = numpy_dtype(t.data_type, what)
    dims = tuple(t.dims)
    n = check_alloc(dims, dtype, what)
    nbytes = n * dtype.itemsize
    if t.data_location == TensorProto.EXTERNAL:
        return _read_external(t, base_dir, nbytes, what).view(dtype).reshape(dims)
    if t.external_data:
        raise UnsafeModelError(f"{what}: external_data entries on a tensor whose data_location is not EXTERNAL")
    raw = t.raw_data  # protobuf hands out a new bytes copy on every access: read it once
    if raw:
        if len(raw) != nbytes:
            raise OnnxImportError(f"{what}: raw_data holds {len(raw)} bytes, but dims {list(dims)} of "
                                  f"{dtype} need {nbytes}")
        return np.frombuffer(raw, dtype=dtype).reshape(dims).copy()  # writable: the one copy we must make
    field = _TYPED_FIELD.get(t.data_type, "int32_data")
    values = getattr(t, field)
    if len(values) != n:
        raise OnnxImportError(f"{what}: {field} holds {len(values)} values, but dims {list(dims)} need {n}")
    stored = np.asarray(values)
    held = np.uint16 if t.data_type == TensorProto.FLOAT16 else dtype   # float16 bits travel in int32_data
    if not fits_range(stored, held):
        low, high = _range(held)
        raise OnnxImportError(f"{what}: {field} holds values outside {np.dtype(held).name}'s range "
                              f"[{low}, {high}]")
    if t.data_type == TensorProto.FLOAT16:
        return stored.astype(np.uint16).view(np.float16).reshape(dims)
    return stored.astype(dtype).reshape(dims)


def _range(dtype):
    """The lowest and highest value of an integer or boolean dtype."""
    return (0, 1) if np.dtype(dtype).kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)


def fits_range(values, dtype):
    """Whether an array's values all lie in an integer or boolean dtype's range (always, for other dtypes)."""
    if not values.size or np.dtype(dtype).kind not in "iub":
        return True
    low, high = _range(dtype)
    return bool(values.min() >= low and values.max() <= high)


# ---- external data ----
def _read_external(t, base_dir, nbytes, what):
    info = {}
    for entry in t.external_data:
        if entry.key not in _EXTERNAL_KEYS:
            raise UnsafeModelError(f"{what}: external_data key {entry.key!r} is not allowed "
                                   f"(only {sorted(_EXTERNAL_KEYS)})")
        if entry.key in info:
            raise UnsafeModelError(f"{what}: external_data key {entry.key!r} given twice")
        info[entry.key] = entry.value
    if "location" not in info:
        raise UnsafeModelError(f"{what}: external data without a location")
    if base_dir is None:
        raise UnsafeModelError(f"{what}: the model keeps tensors in external files; a model given as bytes or a "
                               "ModelProto needs an explicit base_dir=... (the folder those files are in)")
    path = resolve_location(info["location"], base_dir, what)
    offset = _nonneg_int(info.get("offset", "0"), "offset", what)
    size = os.path.getsize(path)
    length = _nonneg_int(info["length"], "length", what) if "length" in info else nbytes
    if length != nbytes:
        raise OnnxImportError(f"{what}: external data length {length} does not match dims and type ({nbytes} bytes)")
    if offset > size or offset + length > size:
        raise UnsafeModelError(f"{what}: external data at offset {offset} with length {length} lies outside "
                               f"{info['location']!r} ({size} bytes)")
    buf = np.empty(length, np.uint8)  # read straight into the array's memory (no zero-filling pass)
    with open(path, "rb") as f:
        f.seek(offset)
        if f.readinto(memoryview(buf)) != length:
            raise OnnxImportError(f"{what}: {info['location']!r} ended early")
    return buf


def _nonneg_int(text, key, what):
    if not (text.isascii() and text.isdigit()):
        raise UnsafeModelError(f"{what}: external data {key} {text!r} is not a non-negative integer")
    return int(text)


def resolve_location(location, base_dir, what):
    """The file an external-data location names, if it is a plain relative path inside base_dir with no
    symlink on the way; UnsafeModelError otherwise."""
    if not location or "\0" in location:
        raise UnsafeModelError(f"{what}: empty or malformed external data location")
    parts = location.replace("\\", "/").split("/")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise UnsafeModelError(f"{what}: external data location {location!r} is absolute")
    if ".." in parts:
        raise UnsafeModelError(f"{what}: external data location {location!r} contains '..'")
    base = os.path.realpath(base_dir)
    path = base
    for part in parts:
        if part in ("", "."):
            continue
        path = os.path.join(path, part)
        if os.path.islink(path):
            raise UnsafeModelError(f"{what}: external data location {location!r} goes through a symlink")
    if os.path.commonpath([base, os.path.realpath(path)]) != base:
        raise UnsafeModelError(f"{what}: external data location {location!r} leaves the model's folder")
    if not os.path.isfile(path):
        raise OnnxImportError(f"{what}: external data file {location!r} not found in {base_dir!r}")
    return path


def has_external_data(t):
    return t.data_location == TensorProto.EXTERNAL


def graph_protos(proto):
    """The main graph, the model-local functions and every subgraph (GRAPH attributes) nested in them, without
    recursion."""
    return nested_graphs(proto.graph, *proto.functions)


def nested_graphs(*roots):
    """The graphs or functions `roots` and every subgraph (GRAPH attributes) nested in them, without recursion."""
    stack = list(roots)
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for a in node.attribute:
                stack.extend([a.g] if a.type == AttributeProto.GRAPH else list(a.graphs))


def inline_external(proto, read):
    """Write every externally stored tensor of the model inline (initializers of every graph and tensors in node
    attributes), `read(t)` giving its array, so that the proto no longer depends on the files next to the model."""
    for g in graph_protos(proto):
        tensors = list(g.initializer) if isinstance(g, onnx.GraphProto) else []
        for node in g.node:
            for a in node.attribute:
                tensors += [a.t] if a.type == AttributeProto.TENSOR else list(a.tensors)
        for t in tensors:
            if has_external_data(t):
                t.CopyFrom(numpy_helper.from_array(read(t), t.name))
