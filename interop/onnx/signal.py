"""Import rules for signal processing: DFT, STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix.

A DFT is linear in its signal: the `DFT` Op runs the FFT forward and the transposed real DFT matrix backward;
complex values are (..., 2) pairs as ONNX stores them, and the gradient flows to the signal (and to an STFT's
window). Windows
and the mel filter bank are built from integer sizes and come back as constants.
"""
import math

import numpy as np
from onnx import helper

import autocompyute.functional as F
from autocompyute.ops.onnx_ops import dft, gather_map

from ._import_util import axis as wrap_axis, check_alloc, const, flat_positions, scalar, values
from .registry import import_rule


@import_rule("DFT", since=17)
def dft_17(x, dft_length=None, *, axis=1, inverse=0, onesided=0):
    ax = wrap_axis(axis, x.ndim)
    return dft(x, _length(x, dft_length, ax, inverse and onesided), ax, inverse, onesided)


@import_rule("DFT", since=20)
def dft_20(x, dft_length=None, axis=None, *, inverse=0, onesided=0):
    ax = wrap_axis(scalar(axis, -2), x.ndim)
    return dft(x, _length(x, dft_length, ax, inverse and onesided), ax, inverse, onesided)


def _length(x, dft_length, axis, half_spectrum):
    if dft_length is not None:
        n = int(scalar(dft_length))
        check_alloc(x.shape[:axis] + (n,) + x.shape[axis + 1:-1] + (2,), x.dtype, "DFT")
        return n
    return 2 * (x.shape[axis] - 1) if half_spectrum else x.shape[axis]


@import_rule("STFT", since=17)
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    """signal (B, L, C) -> (B, frames, bins, 2): windowed frames, each transformed."""
    step = int(scalar(frame_step))
    n = int(scalar(frame_length)) if frame_length is not None else (
        window.shape[0] if window is not None else signal.shape[1])
    b, length, c = signal.shape
    frames = 1 + (length - n) // step
    pos = flat_positions(signal)
    starts = np.arange(frames) * step
    idx = pos[:, starts[:, None] + np.arange(n)[None, :], :]  # (B, F, n, C)
    x = gather_map([signal], idx)
    if window is not None:
        x = x * F.reshape(window, (n, 1))
    return dft(x, n, 2, 0, onesided)


def _cosine_window(size, periodic, coeffs, output_datatype):
    size = int(scalar(size))
    check_alloc((size,), np.float64, "window")
    period = size if periodic else size - 1
    k = np.arange(size, dtype=np.float64)
    w = np.zeros(size)
    for j, a in enumerate(coeffs):
        w = w + (-1) ** j * a * np.cos(2 * math.pi * j * k / max(period, 1))
    return const(w.astype(helper.tensor_dtype_to_np_dtype(output_datatype)))


@import_rule("HannWindow", since=17)
def hann_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, (0.5, 0.5), output_datatype)


@import_rule("HammingWindow", since=17)
def hamming_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, (25 / 46, 21 / 46), output_datatype)


@import_rule("BlackmanWindow", since=17)
def blackman_window(size, *, output_datatype=1, periodic=1):
    return _cosine_window(size, periodic, (0.42, 0.5, 0.08), output_datatype)


@import_rule("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *,
                      output_datatype=1):
    """Triangular filters evenly spaced on the mel scale, (dft_length // 2 + 1, num_mel_bins)."""
    mels, n, rate = int(scalar(num_mel_bins)), int(scalar(dft_length)), int(scalar(sample_rate))
    lo_hz, hi_hz = values(lower_edge_hertz).reshape(()), values(upper_edge_hertz).reshape(())
    lo = 2595 * np.log1p(lo_hz / 700) / np.log(10)
    hi = 2595 * np.log1p(hi_hz / 700) / np.log(10)
    points = np.arange(mels + 2) * ((hi - lo) / (mels + 2)) + lo
    hz = 700 * np.expm1(points / 2595 * np.log(10))
    edges = (((n + 1) * hz) // rate).astype(int)
    out = np.zeros((n // 2 + 1, mels))
    for i in range(mels):
        left, centre, right = edges[i], edges[i + 1], edges[i + 2]
        if centre == left:
            out[centre, i] = 1
        else:
            j = np.arange(left, centre + 1)
            out[j, i] = (j - left) / (centre - left)
        if right > centre:
            j = np.arange(centre, right)
            out[j, i] = (right - j) / (right - centre)
    return const(out.astype(helper.tensor_dtype_to_np_dtype(output_datatype)))
