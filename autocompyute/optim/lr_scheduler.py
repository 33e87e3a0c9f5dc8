"""Learning-rate schedulers. Each computes the rate of epoch t in closed form from the group's initial rate
(`initial_lr`, recorded at construction), so schedulers can be resumed from a state dict. Call
`scheduler.step()` once per epoch (or per iteration) after `optimizer.step()`.

The closed forms equal PyTorch's chained updates as long as nothing else changes the rates.
"""
import bisect
import math


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError("param 'initial_lr' is not specified in param_groups when resuming a scheduler")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch):
        """The rate of epoch `epoch` for a group whose initial rate is `base_lr`."""
        raise NotImplementedError

    def get_last_lr(self):
        return list(self._last_lr)

    def step(self):
        self.last_epoch += 1
        self._set(self.last_epoch)

    def _lrs(self, epoch):
        """Every group's rate at `epoch`."""
        return [self.lr_at(base, epoch) for base in self.base_lrs]

    def _set(self, epoch):
        self._last_lr = self._lrs(epoch)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambda", "schedulers")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = base * gamma ** (epoch // step_size)"""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2"""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """lr = base * factor, the factor going linearly from start_factor to end_factor over total_iters epochs
    (a linear warm-up with the defaults' start_factor < 1), then staying at end_factor."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        progress = min(epoch, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LambdaLR(LRScheduler):
    """lr = base * lr_lambda(epoch); lr_lambda may be one function or one per parameter group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(f"LambdaLR: {len(lambdas)} functions for {n} parameter groups")
        self.lr_lambda = lambdas
        super().__init__(optimizer, last_epoch)

    def _lrs(self, epoch):
        return [base * f(epoch) for base, f in zip(self.base_lrs, self.lr_lambda)]


class SequentialLR(LRScheduler):
    """Run `schedulers` one after the other, switching at the epochs in `milestones`; each scheduler sees its
    epochs counted from its own start (PyTorch's SequentialLR)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("SequentialLR: expected one milestone fewer than schedulers")
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        super().__init__(optimizer, last_epoch)

    def _set(self, epoch):
        i = bisect.bisect_right(self.milestones, epoch)
        start = self.milestones[i - 1] if i > 0 else 0
        sched = self.schedulers[i]
        sched.last_epoch = epoch - start
        sched._set(epoch - start)
        self._last_lr = sched.get_last_lr()


def warmup_cosine(optimizer, warmup_steps, total_steps, eta_min=0.0, start_factor=1e-3):
    """Linear warm-up over `warmup_steps` (from start_factor * lr to lr), then cosine annealing to eta_min at
    `total_steps`: a SequentialLR of LinearLR and CosineAnnealingLR."""
    warm = LinearLR(optimizer, start_factor, 1.0, total_iters=max(warmup_steps, 1))
    cosine = CosineAnnealingLR(optimizer, T_max=max(total_steps - warmup_steps, 1), eta_min=eta_min)
    return SequentialLR(optimizer, [warm, cosine], milestones=[warmup_steps])
