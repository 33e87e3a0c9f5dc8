"""Convolution layers with PyTorch's parameter names, shapes and default initialisation."""
import math

from .. import backends
from ..dtypes import as_dtype, default_float
from ..ops import conv as C
from .module import Module, Parameter


def uniform_parameter(shape, bound, device=None, dtype=None):
    """A Parameter drawn from U(-bound, bound) with the engine's seeded generator (PyTorch's default layer init:
    kaiming_uniform(a=sqrt(5)) on a weight and U(+-1/sqrt(fan_in)) on a bias both come to bound 1/sqrt(fan_in))."""
    data = backends.rng("cpu").uniform(-bound, bound, size=shape).astype(as_dtype(dtype) or default_float)
    return Parameter(backends.to_device(data, device or "cpu"))


class _ConvNd(Module):
    transposed = False

    def __init__(self, nd, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups={groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} (only 'zeros' is supported)")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = C._tuple(kernel_size, nd, "kernel_size")
        self.stride = C._tuple(stride, nd, "stride")
        self.padding = padding if isinstance(padding, str) else C._tuple(padding, nd, "padding")
        self.dilation = C._tuple(dilation, nd, "dilation")
        self.output_padding = C._tuple(output_padding, nd, "output_padding")
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        fan_in = shape[1] * math.prod(self.kernel_size)  # PyTorch counts dim 1 as fan-in, transposed or not
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        self.weight = uniform_parameter(shape, bound, device, dtype)
        self.bias = uniform_parameter((out_channels,), bound, device, dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.kernel_size):
            s += f", dilation={self.dilation}"
        if any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    def forward(self, input):
        return C.conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
    (N, C_in, L) -> (N, C_out, L_out); weight (C_out, C_in/groups, K), bias (C_out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)


class Conv2d(_Conv):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
    (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in/groups, KH, KW), bias (C_out,).
    padding may be an int, a pair, "valid" or "same" (stride 1)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)


class _ConvTranspose(_ConvNd):
    transposed = True

    def forward(self, input, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(input, output_size)
        return C.conv_transpose(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output `output_size` (its last len(kernel_size) entries)."""
        nd = len(self.kernel_size)
        want = tuple(output_size)[-nd:]
        smallest = [(s - 1) * st - 2 * p + d * (k - 1) + 1 for s, st, p, d, k in
                    zip(input.shape[-nd:], self.stride, self.padding, self.dilation, self.kernel_size)]
        extra = tuple(w - s for w, s in zip(want, smallest))
        if any(e < 0 or e >= max(st, d) for e, st, d in zip(extra, self.stride, self.dilation)):
            raise ValueError(f"{type(self).__name__}: output_size {tuple(output_size)} is not reachable from "
                             f"input {tuple(input.shape)} (smallest {tuple(smallest)})")
        return extra


class ConvTranspose1d(_ConvTranspose):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1): weight (C_in, C_out/groups, K)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)


class ConvTranspose2d(_ConvTranspose):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1): weight (C_in, C_out/groups, KH, KW), bias (C_out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)
