"""Activations beyond ops/unary.py: ELU as an Op; the hard-* family composed from clamp."""
from .base import Op
from .unary import clamp


class Elu(Op):
    """y = x if x > 0 else alpha * (exp(x) - 1)"""
    def forward(self, x):
        xp = self.xp
        pos = x > 0
        neg = self.alpha * xp.expm1(xp.minimum(x, 0))
        self.save(pos=pos, neg=neg)
        return xp.where(pos, x, neg).astype(x.dtype, copy=False)

    def backward(self, dy):
        s = self.saved
        return (dy * self.xp.where(s.pos, 1, s.neg + self.alpha),)


def elu(x, alpha=1.0):
    return Elu.apply(x, alpha=float(alpha))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return clamp(x, min_val, max_val)


def hardsigmoid(x):
    """relu6(x + 3) / 6"""
    return clamp(x + 3.0, 0.0, 6.0) / 6.0


def hardswish(x):
    """x * relu6(x + 3) / 6"""
    return x * hardsigmoid(x)
