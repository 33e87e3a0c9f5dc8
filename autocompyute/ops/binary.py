"""Elementwise functions of two or three tensors. Inputs broadcast like numpy; the engine sums each gradient
back to its input's shape."""
import numpy as np

from .base import Op


class Add(Op):
    def forward(self, a, b):
        return a + b

    def backward(self, dy):
        return dy, dy


class Sub(Op):
    def forward(self, a, b):
        return a - b

    def backward(self, dy):
        return dy, -dy


class Mul(Op):
    def forward(self, a, b):
        self.save(a=a, b=b)
        return a * b

    def backward(self, dy):
        return dy * self.saved.b, dy * self.saved.a


class Div(Op):
    def forward(self, a, b):
        self.save(a=a, b=b)
        return a / b

    def backward(self, dy):
        a, b = self.saved.a, self.saved.b
        da = dy / b
        return da, -da * a / b


class Pow(Op):
    """y = a ** b. The gradient for b uses log(a) and is 0 where a <= 0."""
    def forward(self, a, b):
        y = a ** b
        self.save(a=a, b=b, y=y)
        return y

    def backward(self, dy):
        xp, a, b, y = self.xp, self.saved.a, self.saved.b, self.saved.y
        da = dy * b * a ** (b - 1)
        positive = a > 0
        db = dy * y * xp.log(xp.where(positive, a, 1)) * positive
        return da, db


class Maximum(Op):
    """Elementwise max; at ties the gradient is split evenly."""
    def forward(self, a, b):
        self.save(a=a, b=b)
        return self.xp.maximum(a, b)

    def backward(self, dy):
        a, b = self.saved.a, self.saved.b
        share = (a > b) + 0.5 * (a == b)
        return dy * share, dy * (1 - share)


class Minimum(Op):
    """Elementwise min; at ties the gradient is split evenly."""
    def forward(self, a, b):
        self.save(a=a, b=b)
        return self.xp.minimum(a, b)

    def backward(self, dy):
        a, b = self.saved.a, self.saved.b
        share = (a < b) + 0.5 * (a == b)
        return dy * share, dy * (1 - share)


class Where(Op):
    """y = a where condition else b"""
    def forward(self, condition, a, b):
        xp = self.xp
        self.save(condition=condition)
        shape = np.broadcast_shapes(condition.shape, a.shape, b.shape)                 # (shapes only)
        dtype = xp.result_type(a, b)
        # where one side already has the result's shape and dtype (a mask applied to scores, say), copy it and
        # write the other side over it: about twice as fast as numpy's where with a broadcast condition
        if a.shape == shape and a.dtype == dtype:
            out = a.copy()
            xp.copyto(out, b, where=~condition)
        elif b.shape == shape and b.dtype == dtype:
            out = b.copy()
            xp.copyto(out, a, where=condition)
        else:
            out = xp.where(condition, a, b)
        return out

    def backward(self, dy):
        c = self.saved.condition
        zero = self.xp.zeros((), dy.dtype)
        return None, self.xp.where(c, dy, zero), self.xp.where(c, zero, dy)


class _Elementwise(Op):
    """Comparisons and logical ops: boolean results, no gradient."""
    differentiable = False
    fn = None

    def forward(self, *xs):
        return getattr(self.xp, self.fn)(*xs)


class Equal(_Elementwise): fn = "equal"
class NotEqual(_Elementwise): fn = "not_equal"
class Less(_Elementwise): fn = "less"
class LessEqual(_Elementwise): fn = "less_equal"
class Greater(_Elementwise): fn = "greater"
class GreaterEqual(_Elementwise): fn = "greater_equal"
class LogicalAnd(_Elementwise): fn = "logical_and"
class LogicalOr(_Elementwise): fn = "logical_or"
class LogicalXor(_Elementwise): fn = "logical_xor"
class LogicalNot(_Elementwise): fn = "logical_not"


def add(a, b): return Add.apply(a, b)
def sub(a, b): return Sub.apply(a, b)
def mul(a, b): return Mul.apply(a, b)
def div(a, b): return Div.apply(a, b)
def pow(a, b): return Pow.apply(a, b)  # noqa: A001
def maximum(a, b): return Maximum.apply(a, b)
def minimum(a, b): return Minimum.apply(a, b)
def where(condition, a, b): return Where.apply(_as_bool(condition, a, b), a, b)
def eq(a, b): return Equal.apply(a, b)
def ne(a, b): return NotEqual.apply(a, b)
def lt(a, b): return Less.apply(a, b)
def le(a, b): return LessEqual.apply(a, b)
def gt(a, b): return Greater.apply(a, b)
def ge(a, b): return GreaterEqual.apply(a, b)
def logical_and(a, b): return LogicalAnd.apply(a, b)
def logical_or(a, b): return LogicalOr.apply(a, b)
def logical_xor(a, b): return LogicalXor.apply(a, b)
def logical_not(a): return LogicalNot.apply(a)


def _as_bool(condition, *others):
    from ..tensor import Tensor
    if isinstance(condition, Tensor):
        return condition if condition.dtype.kind == "b" else condition.bool()
    like = next((t for t in others if isinstance(t, Tensor)), None)
    xp = like.xp if like is not None else __import__("numpy")
    return Tensor(xp.asarray(condition, dtype=bool))
