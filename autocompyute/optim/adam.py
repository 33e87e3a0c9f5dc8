"""Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), as in PyTorch."""
import math

from .optimizer import Optimizer, _check


class Adam(Optimizer):
    """m = m + (1 - beta1) * (g - m); v = beta2 * v + (1 - beta2) * g * g;
    p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps), with g = grad + weight_decay * p
    (amsgrad: v replaced by its running maximum in the denominator)."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        for name, v in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            _check(name, v)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas: {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def update(self, p, grad, state, group):
        xp = p.xp
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        if wd and self.decoupled:
            p.data *= 1 - lr * wd
        elif wd:
            grad = grad + wd * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = xp.subtract(grad, m, dtype=m.dtype)              # one scratch array, reused below
        tmp *= 1 - beta1
        m += tmp                                                # m = m + (1 - beta1) * (g - m)
        xp.multiply(grad, grad, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp                                                # v = beta2 * v + (1 - beta2) * g * g
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2 ** t)
        tmp += eps                                              # denominator
        xp.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - beta1 ** t)
        p.data -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
