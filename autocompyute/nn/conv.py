"""Convolution layers with PyTorch's parameter names, shapes and default initialisation."""

from ..ops import conv as C
from ..ops import movement
from . import init
from .module import Module, empty_parameter

PADDING_MODES = {"zeros": None, "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


class _ConvNd(Module):
    transposed = False

    def __init__(self, nd, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups={groups}")
        if padding_mode not in PADDING_MODES or (self.transposed and padding_mode != "zeros"):
            raise ValueError(f"{name}: padding_mode must be one of {tuple(PADDING_MODES)} ('zeros' for "
                             f"transposed convolutions), not {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = C._tuple(kernel_size, nd, f"{name}: kernel_size", 1)
        self.stride = C._tuple(stride, nd, f"{name}: stride", 1)
        self.padding = padding if isinstance(padding, str) else C._tuple(padding, nd, f"{name}: padding", 0)
        self.dilation = C._tuple(dilation, nd, f"{name}: dilation", 1)
        self.output_padding = C._tuple(output_padding, nd, f"{name}: output_padding", 0)
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = empty_parameter(shape, device, dtype)
        self.bias = empty_parameter((out_channels,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform(a=sqrt(5)) on the weight, U(+-1/sqrt(fan_in)) on the bias (fan_in
        counts the weight's dim 1 times the kernel, transposed or not)."""
        init.default_layer_init_(self.weight, self.bias)

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
        if self.padding_mode == "zeros":
            return C.conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        nd = len(self.kernel_size)
        pads = C._conv_padding(self.padding, self.kernel_size, self.stride, self.dilation, nd, type(self).__name__)
        widths = tuple(p for lo_hi in reversed(pads) for p in lo_hi)  # F.pad order: last dim first
        input = movement.pad(input, widths, mode=PADDING_MODES[self.padding_mode])
        return C.conv(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


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
