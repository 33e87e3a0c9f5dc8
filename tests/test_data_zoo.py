"""The bundled data: the digits file and its split, the character corpus, batches and masking."""
import importlib.util
import pathlib

import numpy as np
import pytest

from model_zoo import data

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_digits_file_is_the_uci_set():
    with np.load(data.DIGITS_PATH) as f:
        images, labels = f["images"], f["labels"]
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.sum() == 1797 and counts.min() >= 170
    # the classes differ: the mean images of 0 and 1 are far apart
    assert np.abs(images[labels == 0].mean(0) - images[labels == 1].mean(0)).max() > 5


def test_digits_split_is_disjoint_stratified_and_seeded():
    train, test = data.digits_split_indices()
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    assert len(test) == 359
    _, labels = data.load_digits("test")
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    again = data.digits_split_indices()
    assert np.array_equal(again[1], test)
    assert not np.array_equal(data.digits_split_indices(seed=1)[1], test)


def test_load_digits_scales_and_shapes():
    x, y = data.load_digits("train")
    assert x.shape == (1438, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    xf, _ = data.load_digits("test", flatten=True)
    assert xf.shape == (359, 64)
    xa, ya = data.load_digits("all")
    assert len(xa) == 1797
    with np.load(data.DIGITS_PATH) as f:
        np.testing.assert_array_equal(xa[:, 0] * 16, f["images"])
        np.testing.assert_array_equal(ya, f["labels"])
    with pytest.raises(ValueError, match="split"):
        data.load_digits("validation")


def _script(name):
    """scripts/<name>.py loaded as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="scikit-learn regenerates the file")
def test_make_digits_reproduces_the_file():
    images, labels = _script("make_digits").convert()
    with np.load(data.DIGITS_PATH) as f:
        np.testing.assert_array_equal(f["images"], images)
        np.testing.assert_array_equal(f["labels"], labels)


def test_corpus_is_ascii_documentation_of_a_few_tens_of_kb():
    text = data.load_corpus()
    assert 20_000 <= len(text) <= 100_000
    assert text.isascii()
    assert "autocompyute" in text.lower() and "onnx" in text.lower()
    assert "\0" not in text                        # byte 0 is free for [MASK]


def test_make_corpus_is_deterministic():
    mod = _script("make_corpus")
    a, b = mod.build_corpus(30_000), mod.build_corpus(30_000)
    assert a == b and len(a) <= 30_000 and a.isascii()
    assert a.startswith((ROOT / "README.md").read_text()[:200])


def test_encode_decode_round_trip_and_splits():
    assert data.decode(data.encode("Hello, world\n")) == "Hello, world\n"
    tokens = data.load_corpus_tokens("all")
    train, test = data.load_corpus_tokens("train"), data.load_corpus_tokens("test")
    assert len(train) + len(test) == len(tokens)
    np.testing.assert_array_equal(np.concatenate([train, test]), tokens)
    assert tokens.dtype == np.int64 and tokens.max() < data.VOCAB_SIZE


def test_char_batches_are_shifted_windows():
    tokens = np.arange(1000, dtype=np.int64)
    batches = list(data.char_batches(tokens, batch_size=4, seq_len=16, n_batches=3, seed=0))
    assert len(batches) == 3
    for x, y in batches:
        assert x.shape == y.shape == (4, 16)
        np.testing.assert_array_equal(y, x + 1)                       # next token
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)          # contiguous windows
    again = list(data.char_batches(tokens, 4, 16, 3, seed=0))
    np.testing.assert_array_equal(again[2][0], batches[2][0])
    with pytest.raises(ValueError):
        next(data.char_batches(tokens[:10], 2, 16, 1))


def test_mask_chars():
    rng = np.random.default_rng(0)
    x = rng.integers(32, 127, (64, 64))
    inputs, targets = data.mask_chars(x, rng)
    chosen = targets != data.IGNORE_INDEX
    assert chosen.any(axis=1).all()                                   # at least one per row
    assert 0.12 < chosen.mean() < 0.18
    np.testing.assert_array_equal(targets[chosen], x[chosen])
    np.testing.assert_array_equal(inputs[~chosen], x[~chosen])
    masked = (inputs == data.MASK_ID) & chosen
    assert 0.7 < masked.sum() / chosen.sum() < 0.9
    assert (inputs[chosen] == x[chosen]).mean() > 0.05                # some kept as they were
