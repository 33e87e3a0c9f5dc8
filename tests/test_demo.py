"""The demo and the train command: a fast smoke run of each through the same code path, and the full demo
(slow), which must reach 95% test accuracy."""
import sys

import numpy as np
import pytest

import autocompyute as ac
from autocompyute import checkpoint
from autocompyute.cli import main
from model_zoo import data, demo, lenet, train


def _demo(tmp_path, *extra):
    if "--epochs" in extra and "--finetune-epochs" not in extra:
        extra = (*extra, "--finetune-epochs", "1")  # smoke runs: one epoch of each training
    return main(["demo", "--out", str(tmp_path), "--no-progress", *extra])


def test_demo_steps_in_order():
    assert [name for name, _ in demo.STEPS] == ["train", "checkpoint", "plot", "export", "parity", "finetune"]


def test_demo_smoke_writes_checkpoint_and_plot(tmp_path, capsys):
    assert _demo(tmp_path, "--epochs", "2", "--min-accuracy", "0") == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "== checkpoint" in out
    ckpt = tmp_path / "lenet_digits.safetensors"
    png = tmp_path / "training.png"
    assert ckpt.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = checkpoint.load_metadata(ckpt)
    assert meta["model"] == "lenet" and len(meta["history"]) == 2
    # the checkpoint loads strictly into a fresh model and gives the accuracy it reports
    model = lenet.build(lenet.Config(**{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in meta["config"].items()}))
    checkpoint.load_into(model, ckpt)
    model.eval()
    x, y = data.load_digits("test")
    with ac.no_grad():
        acc = (model(ac.tensor(x)).argmax(1).numpy() == y).mean()
    assert acc == pytest.approx(meta["test_accuracy"])
    assert acc > 0.5                                                  # two epochs already learn something
    assert checkpoint.load_optimizer_state(ckpt) is not None


def test_demo_fails_below_the_accuracy_target(tmp_path, capsys):
    assert _demo(tmp_path, "--epochs", "1", "--min-accuracy", "1.01") == 1
    assert "below the target" in capsys.readouterr().out


def test_demo_without_matplotlib_skips_the_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)             # import matplotlib raises ImportError
    assert _demo(tmp_path, "--epochs", "1", "--min-accuracy", "0") == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert (tmp_path / "lenet_digits.safetensors").exists()
    assert not (tmp_path / "training.png").exists()


def test_train_cnn_is_reproducible():
    _, h1, _ = demo.train_cnn(epochs=1, progress=False)
    _, h2, _ = demo.train_cnn(epochs=1, progress=False)
    assert h1[0]["loss"] == h2[0]["loss"] and h1[0]["test_accuracy"] == h2[0]["test_accuracy"]


@pytest.mark.slow
def test_full_demo_reaches_95_percent(tmp_path, capsys):
    assert _demo(tmp_path) == 0
    meta = checkpoint.load_metadata(tmp_path / "lenet_digits.safetensors")
    assert meta["test_accuracy"] >= 0.95
    out = capsys.readouterr().out
    assert "exported CNN: max abs error vs onnxruntime" in out and "fine-tuned CNN: max abs error" in out
    assert "MISMATCH" not in out and "onnxruntime" in out.split("inference on 359 test images:")[1]
    assert (tmp_path / "lenet_digits.onnx").exists() and (tmp_path / "lenet_digits_noisy.onnx").exists()


def test_finetune_step_improves_the_imported_cnn_and_exports_it_again(tmp_path, capsys):
    import onnx

    assert _demo(tmp_path, "--epochs", "3", "--min-accuracy", "0", "--finetune-epochs", "2") == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("noisy test digits"))
    before, after = (float(w.rstrip("%")) for w in line.split() if w.endswith("%"))
    assert after > before
    original = onnx.load(str(tmp_path / "lenet_digits.onnx"))
    tuned = onnx.load(str(tmp_path / "lenet_digits_noisy.onnx"))
    assert [n.op_type for n in tuned.graph.node] == [n.op_type for n in original.graph.node]
    changed = [a.name for a, b in zip(original.graph.initializer, tuned.graph.initializer)
               if not np.array_equal(onnx.numpy_helper.to_array(a), onnx.numpy_helper.to_array(b))]
    assert changed, "fine-tuning changed no weight in the re-exported model"


# ---- autocompyute train ----
@pytest.mark.parametrize("name", sorted(train.RECIPES))
def test_train_command_smoke(name, tmp_path, capsys):
    rc = main(["train", name, "--epochs", "1", "--max-steps", "3", "--batch-size", "8", "--out", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "epoch   1/1" in out and "final:" in out
    path = tmp_path / f"{name}.safetensors"
    meta = checkpoint.load_metadata(path)
    assert meta["model"] == name and meta["task"] == train.RECIPES[name].task
    assert np.isfinite(meta["history"][0]["loss"])
    # the checkpoint holds the recipe's model, strictly
    from model_zoo import MODELS
    model = MODELS[name].build(train.RECIPES[name].config)
    checkpoint.load_into(model, path)


def test_train_lowers_the_loss_on_digits():
    _, history, _, _ = train.train_model("mlp", epochs=3, progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_accuracy"] > 0.8


def test_train_lowers_the_char_loss():
    _, history, _, _ = train.train_model("gru", epochs=2, max_steps=10, progress=False)
    assert history[-1]["val_loss"] < history[0]["val_loss"] < np.log(256)


def test_train_rejects_unknown_models(capsys):
    with pytest.raises(SystemExit):
        main(["train", "alexnet"])


def test_sample_continues_the_prompt():
    from model_zoo import lstm
    ac.manual_seed(0)
    text = train.sample(lstm.build(lstm.CHARS), "The ", 10, seq_len=16)
    assert text.startswith("The ") and len(text.encode()) >= 14
