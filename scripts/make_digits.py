"""Regenerate model_zoo/data/digits.npz: the 8x8 handwritten digits (1,797 images, 10 classes).

The data is the UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin, C. Kaynak; CC BY 4.0)
in the copy that scikit-learn bundles. Only this script needs scikit-learn; the demo reads the .npz.

    pip install scikit-learn && python scripts/make_digits.py

Writes `images` as uint8 (1797, 8, 8) with values 0..16 and `labels` as uint8 (1797,), compressed.
"""
import os

import numpy as np


def convert():
    """(images, labels) as the .npz stores them, from scikit-learn's copy of the data."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)  # (1797, 8, 8), 0..16
    labels = digits.target.astype(np.uint8)  # (1797,)
    assert images.shape == (1797, 8, 8) and images.max() == 16 and (images == digits.images).all()
    return images, labels


def main():
    images, labels = convert()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model_zoo", "data", "digits.npz")
    np.savez_compressed(out, images=images, labels=labels)
    print(f"wrote {os.path.normpath(out)}: {len(images)} images, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
