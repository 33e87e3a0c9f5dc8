"""`autocompyute info` and `autocompyute finetune`, run in-process through the console-command dispatcher."""
import pathlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from autocompyute.cli import main  # noqa: E402
from interop import import_onnx  # noqa: E402

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "onnx"


def test_info_describes_a_model(capsys):
    assert main(["info", str(FIXTURES / "cnn_ts_op17_training.onnx")]) == 0
    out = capsys.readouterr().out
    for part in ("producer:  pytorch", "opset:     ai.onnx 17", "input: float[batch, 3, 16, 16]",
                 "2  BatchNormalization", "3  Conv", "parameters: 541 floating-point values",
                 "every op is supported"):
        assert part in out


def test_info_lists_unsupported_ops(tmp_path, capsys):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Strange", ["a"], ["y"], name="odd")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["info", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NOT SUPPORTED" in out and "Strange (opset 17)" in out and "'odd'" in out


def test_info_on_a_corrupt_file_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff")
    assert main(["info", str(path)]) == 2
    assert "OnnxImportError" in capsys.readouterr().err


def _regression_model(path):
    w = np.zeros((3, 1), np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(1, np.float32), "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_finetune_lowers_the_loss_writes_the_model_and_checks_parity(tmp_path, capsys):
    model, out = tmp_path / "lin.onnx", tmp_path / "tuned.onnx"
    _regression_model(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.float32([[1.0], [-2.0], [0.5]]) + 0.3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    code = main(["finetune", str(model), "--data", str(tmp_path / "d.npz"), "--loss", "mse", "--epochs", "5",
                 "--lr", "0.05", "--batch-size", "16", "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    losses = [float(line.split("loss")[1]) for line in text.splitlines() if line.startswith("epoch")]
    assert len(losses) == 5 and losses[-1] < losses[0] / 2
    assert "parity: OK" in text or "parity with onnxruntime: OK" in text
    tuned = import_onnx(str(out))
    assert abs(float(tuned._parameters["b"].item()) - 0.3) < abs(0.0 - 0.3)


def test_finetune_cross_entropy_on_a_fixture(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((48, 8)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, :4]).argmax(1))
    out = tmp_path / "mlp.onnx"
    code = main(["finetune", str(FIXTURES / "mlp_ts_op17.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--loss", "cross_entropy", "--epochs", "3", "--lr", "0.01", "--freeze", "net.0", "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    losses = [float(line.split("loss")[1]) for line in text.splitlines() if line.startswith("epoch")]
    assert losses[-1] < losses[0]
    before = import_onnx(str(FIXTURES / "mlp_ts_op17.onnx")).state_dict()
    after = import_onnx(str(out)).state_dict()
    np.testing.assert_array_equal(after["net.0.weight"].numpy(), before["net.0.weight"].numpy())  # frozen
    assert not np.array_equal(after["net.2.weight"].numpy(), before["net.2.weight"].numpy())


def test_finetune_reports_bad_data(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", inputs=np.zeros((4, 8), np.float32))
    code = main(["finetune", str(FIXTURES / "mlp_ts_op17.onnx"), "--data", str(tmp_path / "d.npz"),
                 "-o", str(tmp_path / "o.onnx")])
    assert code == 2 and "no targets" in capsys.readouterr().err


def test_threads_option_gives_the_engine_its_threads_for_any_subcommand(tmp_path, capsys):
    """`autocompyute --threads N COMMAND` calls ac.set_num_threads(N) before the command runs; N < 1 is refused."""
    from autocompyute import parallel
    before = parallel.get_num_threads()
    seen = []
    try:
        assert main(["--threads", "2", "info", str(FIXTURES / "cnn_ts_op17_training.onnx")]) == 0
        seen.append(parallel.get_num_threads())
    finally:
        parallel.set_num_threads(before)
    assert seen == [2]
    with pytest.raises(SystemExit) as e:
        main(["--threads", "0", "info", str(FIXTURES / "cnn_ts_op17_training.onnx")])
    assert e.value.code == 2 and "at least 1" in capsys.readouterr().err
