"""README's example runs as written and trains its network."""
import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_trains_the_two_layer_network():
    blocks = _python_blocks()
    assert blocks, "README.md has no ```python block"
    namespace, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102
    printed = float(out.getvalue().split()[-1])
    assert printed == namespace["loss"].item()
    assert printed < 0.3, f"the README's network ends with loss {printed}"


def test_readme_other_examples_run(tmp_path, monkeypatch):
    """Every other python block of the README runs as written (in a scratch folder: they write files)."""
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks()[1:]
    assert len(blocks) >= 2
    for block in blocks:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, str(README), "exec"), {})  # noqa: S102
    assert (tmp_path / "mlp.safetensors").exists() and (tmp_path / "cnn_finetuned.onnx").exists()
