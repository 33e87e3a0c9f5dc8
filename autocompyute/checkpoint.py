"""Checkpoints in the safetensors format, written atomically. Nothing is ever unpickled.

One checkpoint is one `.safetensors` file:
- the model's state dict, each tensor under its state-dict name (`fc1.weight`, `bn.running_mean`, ...), so
  other safetensors readers see the model as it is;
- optionally an optimizer's state, under keys prefixed `__optim__/` (`__optim__/state/3/exp_avg`; a 0-d array
  for numbers such as Adam's `step`), its parameter groups as JSON in the header's metadata; keeping them in the
  same file means one atomic write covers both, so model and optimizer can never be out of step;
- the caller's metadata (a JSON-serialisable dict) under the metadata key `autocompyute.metadata`.

Writing goes to a temporary file in the destination's folder, which is flushed and fsync'ed and then renamed
over the destination with `os.replace`: a crash (or an error) mid-save leaves the previous checkpoint intact.
"""
import contextlib
import json
import os
import struct
import tempfile

import numpy as np

from . import backends
from .errors import CheckpointError
from .tensor import Tensor

OPTIM_PREFIX = "__optim__/"
META_KEY = "autocompyute.metadata"
FORMAT = "autocompyute-checkpoint/1"
_CHUNK = 1 << 20


def _as_numpy(value):
    if isinstance(value, Tensor):
        value = value.data
    if hasattr(value, "dtype"):
        value = backends.to_device(value, "cpu")
    return np.asarray(value, order="C")  # (ascontiguousarray would turn 0-d arrays into 1-d ones)


def _state_arrays(module_or_state_dict):
    if hasattr(module_or_state_dict, "state_dict") and callable(module_or_state_dict.state_dict):
        module_or_state_dict = module_or_state_dict.state_dict()
    out = {}
    for name, value in module_or_state_dict.items():
        if not isinstance(name, str) or name.startswith(OPTIM_PREFIX):
            raise CheckpointError(f"checkpoint: invalid tensor name {name!r}")
        out[name] = _as_numpy(value)
    return out


def _optimizer_arrays(optimizer):
    sd = optimizer.state_dict() if hasattr(optimizer, "state_dict") else optimizer
    arrays = {}
    for index, values in sd["state"].items():
        for key, value in values.items():
            arrays[f"{OPTIM_PREFIX}state/{int(index)}/{key}"] = _as_numpy(value)
    try:
        groups = json.dumps(sd["param_groups"])
    except TypeError as e:
        raise CheckpointError(f"checkpoint: optimizer hyperparameters must be JSON-serialisable ({e})") from e
    return arrays, groups


def save(module_or_state_dict, path, metadata=None, optimizer=None):
    """Write a Module's state dict (or a mapping of names to Tensors or arrays) to `path`, atomically.

    `metadata`: a JSON-serialisable dict stored in the header (read back with `load_metadata`).
    `optimizer`: an Optimizer (or its state_dict()) whose state goes into the same file (`load_optimizer`).
    """
    from safetensors.numpy import save as st_save

    tensors = _state_arrays(module_or_state_dict)
    header = {"format": FORMAT}
    if metadata is not None:
        try:
            header[META_KEY] = json.dumps(metadata)
        except TypeError as e:
            raise CheckpointError(f"checkpoint {path}: metadata must be JSON-serialisable ({e})") from e
    if optimizer is not None:
        arrays, groups = _optimizer_arrays(optimizer)
        tensors.update(arrays)
        header[OPTIM_PREFIX + "param_groups"] = groups
    _write_atomic(os.fspath(path), st_save(tensors, metadata=header))


def _write_all(f, data):
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        f.write(view[start:start + _CHUNK])


def _write_atomic(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise CheckpointError(f"checkpoint {path!r}: cannot write in {folder!r} ({e.strerror or e})") from e
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # the mode a plain open() would give, not mkstemp's owner-only 0600
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (not possible on every platform)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ---- reading ----
def _read(path):
    """(tensors, header metadata) of a safetensors file, with errors that name the path."""
    from safetensors.numpy import load as st_load

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path!r}: no such file") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint {path!r}: cannot be read ({e.strerror or e})") from e
    try:
        if len(data) < 8:
            raise ValueError(f"{len(data)} bytes is too short for a safetensors header")
        (n,) = struct.unpack("<Q", data[:8])
        if n > len(data) - 8:
            raise ValueError(f"the header claims {n} bytes, the file has {len(data) - 8} after the length")
        header = json.loads(data[8:8 + n])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        meta = header.get("__metadata__") or {}
        tensors = st_load(data)
    except Exception as e:  # the safetensors parser's own error type, ValueError, JSON errors
        raise CheckpointError(f"checkpoint {path!r}: not a valid safetensors file ({e})") from e
    return tensors, meta


def load(path):
    """The model tensors of a checkpoint: a dict of state-dict names to numpy arrays (optimizer state left out)."""
    tensors, _ = _read(path)
    return _model_tensors(tensors)


def _model_tensors(tensors):
    return {k: v for k, v in tensors.items() if not k.startswith(OPTIM_PREFIX)}


def load_metadata(path):
    """The metadata dict given to `save` (empty if none)."""
    _, meta = _read(path)
    if META_KEY not in meta:
        return {}
    try:
        return json.loads(meta[META_KEY])
    except ValueError as e:
        raise CheckpointError(f"checkpoint {os.fspath(path)!r}: metadata is not valid JSON ({e})") from e


def load_optimizer_state(path):
    """The optimizer state dict stored in a checkpoint, in the layout of Optimizer.state_dict(), or None."""
    return _optimizer_state(path, *_read(path))


def _optimizer_state(path, tensors, meta):
    if OPTIM_PREFIX + "param_groups" not in meta:
        return None
    try:
        groups = json.loads(meta[OPTIM_PREFIX + "param_groups"])
    except ValueError as e:
        raise CheckpointError(f"checkpoint {os.fspath(path)!r}: optimizer groups are not valid JSON ({e})") from e
    for g in groups:
        for k, v in g.items():
            if k != "params" and isinstance(v, list):
                g[k] = tuple(v)  # betas
    state = {}
    for key, value in tensors.items():
        if key.startswith(OPTIM_PREFIX + "state/"):
            index, name = key[len(OPTIM_PREFIX + "state/"):].split("/", 1)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": groups}


def load_into(module, path, strict=True, optimizer=None):
    """Load a checkpoint into `module` (Module.load_state_dict: StateDictError naming every mismatch under
    strict) and, if given, `optimizer`. Returns (missing_keys, unexpected_keys)."""
    tensors, meta = _read(path)  # once: the model and optimizer parts come from the same file contents
    result = module.load_state_dict(_model_tensors(tensors), strict=strict)
    if optimizer is not None:
        state = _optimizer_state(path, tensors, meta)
        if state is None:
            raise CheckpointError(f"checkpoint {os.fspath(path)!r}: holds no optimizer state")
        optimizer.load_state_dict(state)
    return result
