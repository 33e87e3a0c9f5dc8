"""The bundled data sets: 8x8 handwritten digits and a character corpus (model_zoo/data/).

Digits: `load_digits(split)` gives float32 images (N, 1, 8, 8) scaled to [0, 1] and int64 labels (N,), with a
fixed, seeded, stratified train/test split (20% of each class held out). Regenerate the file with
scripts/make_digits.py.

Corpus: the project's own documentation as text (scripts/make_corpus.py). Characters are bytes, so the
vocabulary is 256; `char_batches` yields random windows for next-character prediction and `mask_chars`
prepares masked-character prediction (BERT-style).
"""
import pathlib

import numpy as np

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
DIGITS_PATH = DATA_DIR / "digits.npz"
CORPUS_PATH = DATA_DIR / "corpus.txt"
SPLITS = ("train", "test", "all")
VOCAB_SIZE = 256   # byte-level characters
MASK_ID = 0        # [MASK] for masked-character prediction: the corpus is ASCII text, so byte 0 never occurs
IGNORE_INDEX = -100


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


# ---- digits ----
def digits_split_indices(seed=0, test_fraction=0.2, labels=None):
    """(train, test) index arrays: a seeded permutation of each class, its first `test_fraction` to test.
    `labels`: the file's labels when the caller has read them already."""
    if labels is None:
        with np.load(DIGITS_PATH) as f:
            labels = f["labels"]
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits(split="train", seed=0, test_fraction=0.2, flatten=False):
    """(images, labels) of the 8x8 digits: float32 (N, 1, 8, 8) in [0, 1] (or (N, 64) with flatten), int64 (N,).

    split: "train" (1,438 images with the defaults), "test" (359) or "all" (1,797).
    """
    _check_split(split)
    with np.load(DIGITS_PATH) as f:
        images, labels = f["images"], f["labels"]
    if split != "all":
        train, test = digits_split_indices(seed, test_fraction, labels)
        keep = train if split == "train" else test
        images, labels = images[keep], labels[keep]
    x = (images.astype(np.float32) / 16.0)[:, None]   # (N, 1, 8, 8)
    if flatten:
        x = x.reshape(len(x), 64)                       # (N, 64)
    return x, labels.astype(np.int64)


# ---- character corpus ----
def load_corpus():
    """The corpus text (ASCII)."""
    return CORPUS_PATH.read_text(encoding="ascii")


def encode(text):
    """int64 array of byte values: one token per character."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def decode(tokens):
    return bytes(int(t) for t in np.asarray(tokens).reshape(-1)).decode("utf-8", errors="replace")


def load_corpus_tokens(split="train", val_fraction=0.1):
    """The encoded corpus; "train" is its first 90%, "test" the last 10% (a contiguous tail), "all" all of it."""
    _check_split(split)
    tokens = encode(load_corpus())
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens if split == "all" else tokens[:cut] if split == "train" else tokens[cut:]


def char_batches(tokens, batch_size, seq_len, n_batches, seed=0):
    """`n_batches` pairs (x, y) of int64 arrays (B, T): random windows of `tokens`, y is x shifted by one."""
    if len(tokens) <= seq_len:
        raise ValueError(f"char_batches: {len(tokens)} tokens are too few for windows of {seq_len} + 1")
    rng = np.random.default_rng(seed)
    offsets = np.arange(seq_len + 1)
    for _ in range(n_batches):
        starts = rng.integers(0, len(tokens) - seq_len, size=batch_size)
        windows = tokens[starts[:, None] + offsets]    # (B, T + 1)
        yield windows[:, :-1], windows[:, 1:]


def mask_chars(x, rng, p=0.15, mask_id=MASK_ID):
    """BERT-style masking of a (B, T) token array: returns (inputs, targets). A fraction `p` of the positions is
    chosen (at least one per row); of those 80% become `mask_id`, 10% a random byte, 10% stay. `targets` holds the
    original token at chosen positions and IGNORE_INDEX elsewhere."""
    x = np.asarray(x)
    chosen = rng.random(x.shape) < p                            # (B, T)
    chosen[np.arange(len(x)), rng.integers(0, x.shape[1], len(x))] = True
    targets = np.where(chosen, x, IGNORE_INDEX)
    roll = rng.random(x.shape)
    inputs = np.where(chosen & (roll < 0.8), mask_id, x)
    random_ids = rng.integers(1, 128, size=x.shape)
    inputs = np.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
    return inputs.astype(np.int64), targets.astype(np.int64)
