"""The console commands `autocompyute export` and `autocompyute check`."""
import sys
import types

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import autocompyute as ac  # noqa: E402
from autocompyute import checkpoint, nn  # noqa: E402
from autocompyute.cli import main  # noqa: E402
from interop import export_onnx  # noqa: E402
from interop.onnx.registry import IMPORT_RULES, load_rules  # noqa: E402


class _Tiny(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.w = nn.Parameter(ac.randn(4, width))
        self.b = nn.Parameter(ac.zeros(width))

    def forward(self, x):
        return (x @ self.w + self.b).tanh()


@pytest.fixture
def tiny_zoo(monkeypatch):
    """A zoo model module (build(config), example_inputs()) without touching model_zoo/ on disk."""
    mod = types.ModuleType("model_zoo.tiny_for_tests")

    class Config:
        width = 6

    mod.Config = Config
    mod.build = lambda config: _Tiny(config.width)
    mod.example_inputs = lambda: (ac.randn(3, 4),)
    monkeypatch.setitem(sys.modules, "model_zoo.tiny_for_tests", mod)
    return mod


def _ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_export_command_writes_a_checked_model(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export", "tiny_for_tests", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "parity: OK" in text and str(out) in text
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert {i.name for i in model.graph.initializer} >= {"w", "b"}
    assert _ort(out, np.ones((8, 4), np.float32)).shape == (8, 6)  # symbolic batch


def test_export_command_loads_a_checkpoint(tiny_zoo, tmp_path):
    trained = _Tiny(6)
    trained.b.data = np.full(6, 0.25, np.float32)
    checkpoint.save(trained, tmp_path / "ckpt.safetensors")
    out = tmp_path / "tiny.onnx"
    assert main(["export", "tiny_for_tests", "--checkpoint", str(tmp_path / "ckpt.safetensors"), "-o", str(out)]) == 0
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(_ort(out, x), trained(ac.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


def test_export_command_unknown_model(tmp_path):
    with pytest.raises(SystemExit, match="no model 'no_such_model'"):
        main(["export", "no_such_model", "-o", str(tmp_path / "x.onnx")])


def _exported(tmp_path):
    net = _Tiny(5)
    path = tmp_path / "net.onnx"
    export_onnx(net, np.ones((2, 4), np.float32), path)
    return net, path


def test_check_command_ok(tmp_path, capsys):
    net, path = _exported(tmp_path)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.savez(tmp_path / "x.npz", input=x)
    assert main(["check", str(path), "--inputs", str(tmp_path / "x.npz")]) == 0
    text = capsys.readouterr().out
    assert "parity: OK" in text and "(3, 5)" in text
    assert main(["check", str(path)]) == 0  # random inputs


@pytest.fixture
def broken_tanh_import():
    """Make the importer run Tanh as Sigmoid, so the two runtimes disagree."""
    load_rules()
    key = ("", "Tanh")
    saved = list(IMPORT_RULES.get(key, []))
    IMPORT_RULES[key] = [(1, lambda x: x.sigmoid())]
    yield
    IMPORT_RULES[key] = saved


def test_check_command_mismatch_exits_1(tmp_path, capsys, broken_tanh_import):
    net, path = _exported(tmp_path)
    assert main(["check", str(path), "--atol", "1e-6"]) == 1
    text = capsys.readouterr().out
    assert "MISMATCH" in text and "Tanh" in text


def test_check_command_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    assert main(["check", str(bad)]) == 2
    assert "autocompyute check" in capsys.readouterr().err
