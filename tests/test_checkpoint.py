"""Checkpoints: safetensors round trips (model, optimizer, metadata), atomic writes that survive a failure
mid-save, and typed errors naming the file."""
import json
import os
import struct

import numpy as np
import pytest

import autocompyute as ac
from autocompyute import checkpoint, nn, optim
from autocompyute.errors import CheckpointError, StateDictError


def _model(seed=0):
    ac.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def _train_step(model, opt):
    x = ac.tensor(np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32))
    y = ac.tensor(np.array([0, 1] * 4))
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def test_round_trip_of_model_optimizer_and_metadata(tmp_path):
    path = tmp_path / "ck.safetensors"
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    _train_step(model, opt)
    checkpoint.save(model, path, metadata={"epoch": 3, "note": "ok"}, optimizer=opt)

    arrays = checkpoint.load(path)
    assert set(arrays) == set(model.state_dict())
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    assert arrays["1.num_batches_tracked"].shape == () and arrays["1.num_batches_tracked"].dtype == np.int64
    np.testing.assert_array_equal(arrays["0.weight"], model[0].weight.numpy())
    assert checkpoint.load_metadata(path) == {"epoch": 3, "note": "ok"}

    other = _model(seed=7)
    opt2 = optim.Adam(other.parameters(), lr=0.5)
    assert checkpoint.load_into(other, path, optimizer=opt2) == ([], [])
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["betas"] == (0.9, 0.999)
    # both continue identically
    _train_step(model, opt)
    _train_step(other, opt2)
    np.testing.assert_array_equal(model[3].weight.numpy(), other[3].weight.numpy())


def test_file_is_plain_safetensors_readable_by_the_reference_reader(tmp_path):
    from safetensors.numpy import load_file
    path = tmp_path / "m.safetensors"
    model = _model()
    checkpoint.save(model.state_dict(), path)
    loaded = load_file(str(path))
    np.testing.assert_array_equal(loaded["3.bias"], model[3].bias.numpy())
    assert checkpoint.load_optimizer_state(path) is None
    assert checkpoint.load_metadata(path) == {}


def test_save_accepts_arrays_and_tensors(tmp_path):
    path = tmp_path / "d.safetensors"
    checkpoint.save({"a": np.arange(6).reshape(2, 3), "b": ac.tensor([1.5, 2.5]), "c": np.array(True)}, path)
    out = checkpoint.load(path)
    np.testing.assert_array_equal(out["a"], np.arange(6).reshape(2, 3))
    assert out["b"].dtype == np.float32 and out["c"].dtype == np.bool_


def test_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    old = _model(seed=0)
    checkpoint.save(old, path, metadata={"epoch": 1})
    before = path.read_bytes()

    def half_then_fail(f, data):
        f.write(bytes(data[: len(data) // 2]))
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint, "_write_all", half_then_fail)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(_model(seed=1), path, metadata={"epoch": 2})
    assert path.read_bytes() == before
    assert checkpoint.load_metadata(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["ck.safetensors"]                       # the temporary file is gone


def test_failure_before_the_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    checkpoint.save(_model(), path)
    before = path.read_bytes()

    def no_fsync(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(checkpoint.os, "fsync", no_fsync)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.save(_model(seed=3), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_write_goes_to_a_temporary_file_in_the_same_folder(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), dst))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", spy)
    checkpoint.save(_model(), path)
    (folder, name, dst), = seen
    assert folder == str(tmp_path) and name != "ck.safetensors" and dst == str(path)


def test_missing_file_raises_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="nope.safetensors.*no such file"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="no_folder"):
        checkpoint.save({"w": np.zeros(2)}, tmp_path / "no_folder" / "ck.safetensors")
    assert issubclass(CheckpointError, ac.AutoCompyuteError)


@pytest.mark.parametrize("content", [b"", b"abc", struct.pack("<Q", 10 ** 12) + b"{}",
                                     struct.pack("<Q", 2) + b"[]", b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!",
                                     None])
def test_corrupt_file_raises_checkpoint_error_naming_it(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    if content is None:  # a valid header whose data is cut short
        checkpoint.save(_model(), path)
        content = path.read_bytes()[:-7]
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        checkpoint.load(path)


def test_nothing_is_unpickled(tmp_path):
    """A pickle file is refused as corrupt, not executed."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError):
        checkpoint.load(path)
    assert not (tmp_path / "pwned").exists()


def test_loading_into_a_different_model_names_the_mismatches(tmp_path):
    path = tmp_path / "ck.safetensors"
    checkpoint.save(_model(), path)
    wrong = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 2))
    with pytest.raises(StateDictError) as info:
        checkpoint.load_into(wrong, path)
    assert "0.weight" in str(info.value) and "4.weight" in str(info.value)


def test_optimizer_requested_but_absent(tmp_path):
    path = tmp_path / "ck.safetensors"
    model = _model()
    checkpoint.save(model, path)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        checkpoint.load_into(model, path, optimizer=optim.SGD(model.parameters(), lr=0.1))


def test_header_holds_the_metadata_as_json(tmp_path):
    path = tmp_path / "ck.safetensors"
    checkpoint.save({"w": np.zeros(2, np.float32)}, path, metadata={"k": [1, 2]})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert json.loads(header["__metadata__"][checkpoint.META_KEY]) == {"k": [1, 2]}
    with pytest.raises(CheckpointError, match="JSON"):
        checkpoint.save({"w": np.zeros(2)}, path, metadata={"f": object()})


def test_checkpoint_file_gets_the_usual_permissions(tmp_path):
    import os
    import stat

    from autocompyute import checkpoint, nn
    path = tmp_path / "m.safetensors"
    checkpoint.save(nn.Linear(2, 2), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
