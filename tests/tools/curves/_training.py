"""Real small training runs (CPU torch, about a second each) recorded into Run objects.

Each scenario trains a tiny model on seeded synthetic 2-D data the way a user script would:
minibatch steps log ``train/loss``; the end of each epoch logs the epoch's mean training accuracy
(``train/acc``) and the evaluation losses / accuracies of the held-out splits (eval mode, no
grad). Series are built from the recorded numbers directly; no reader is involved.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dlpilot.tools.curves._model import Run, Series

Tensor = torch.Tensor
torch.set_num_threads(1)  # tiny models: threads only add overhead and contention


def moons(n: int, seed: int, noise: float = 0.08) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    t = torch.rand(n, generator=g) * math.pi
    x = torch.stack([torch.cos(t), torch.sin(t)], 1)
    x = torch.where(y[:, None] == 1, torch.stack([1 - x[:, 0], 0.5 - x[:, 1]], 1), x)
    x = x + noise * torch.randn(n, 2, generator=g)
    return (x - torch.tensor([0.5, 0.25])) / 0.7, y


def circles(n: int, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x.norm(dim=1) > 1.18).long()  # about half the points in each class
    return x, y


def blobs(n: int, seed: int, sep: float = 1.0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) + sep * (2 * y[:, None].float() - 1)
    return x, y


def rotate(x: Tensor, degrees: float) -> Tensor:
    a = math.radians(degrees)
    r = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return x @ r.T


def flip_labels(y: Tensor, fraction: float, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    flip = torch.rand(y.shape[0], generator=g) < fraction
    return torch.where(flip, 1 - y, y)


def mlp(hidden: int, depth: int = 2, dropout: float = 0.0) -> nn.Module:
    layers: list[nn.Module] = []
    width = 2
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


@dataclass
class Recorder:
    steps: dict[str, list[int]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    def log(self, name: str, step: int, value: float) -> None:
        self.steps.setdefault(name, []).append(step)
        self.values.setdefault(name, []).append(float(value))

    def run(self, name: str, originals: dict[str, str] | None = None) -> Run:
        run = Run(name=name, source="torch", format="recorded")
        for k in self.steps:
            run.series[k] = Series(
                name=k,
                original=(originals or {}).get(k, k),
                steps=np.asarray(self.steps[k], dtype=np.int64),
                values=np.asarray(self.values[k], dtype=np.float64),
            )
        return run


LossFn = Callable[[Tensor, Tensor], Tensor]


def train(
    name: str,
    model: nn.Module,
    train_xy: tuple[Tensor, Tensor],
    evals: dict[str, tuple[Tensor, Tensor]],
    *,
    epochs: int,
    batch: int,
    make_opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    loss_fn: LossFn = F.cross_entropy,
    ascend: bool = False,
    lr_at: Callable[[int, int], float] | None = None,
    originals: dict[str, str] | None = None,
    seed: int = 0,
) -> Run:
    """Minibatch training with per-step train/loss and per-epoch train/acc and eval metrics.

    ``ascend`` back-propagates ``-loss`` (the sign bug); ``lr_at(step, total)`` sets the lr of
    every step (a schedule) and logs it as ``lr``.
    """
    torch.manual_seed(seed)
    rec = Recorder()
    x, y = train_xy
    opt = make_opt(list(model.parameters()))
    g = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(x.shape[0] / batch)
    total, step = epochs * per_epoch, 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(x.shape[0], generator=g)
        correct = 0
        for i in range(per_epoch):
            idx = perm[i * batch : (i + 1) * batch]
            if lr_at is not None:
                for group in opt.param_groups:
                    group["lr"] = lr_at(step, total)
                rec.log("lr", step, opt.param_groups[0]["lr"])
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad()
            (-loss if ascend else loss).backward()
            opt.step()
            rec.log("train/loss", step, loss.item())
            correct += int((out.argmax(1) == y[idx]).sum())
            step += 1
        rec.log("train/acc", step - 1, correct / x.shape[0])
        model.eval()
        with torch.no_grad():
            for split, (ex, ey) in evals.items():
                out = model(ex)
                rec.log(f"{split}/loss", step - 1, loss_fn(out, ey).item())
                rec.log(f"{split}/acc", step - 1, (out.argmax(1) == ey).float().mean().item())
    return rec.run(name, originals)


def adam(lr: float) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda p: torch.optim.Adam(p, lr=lr)


def sgd(lr: float) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda p: torch.optim.SGD(p, lr=lr)


# Scenarios ---------------------------------------------------------------------------------------


def well_tuned() -> Run:
    """MLP on moons, Adam 3e-3, enough data: fits train and val alike, no instability."""
    torch.manual_seed(0)
    return train(
        "well-tuned",
        mlp(32),
        moons(2000, 1),
        {"val": moons(1000, 2)},
        epochs=12,
        batch=64,
        make_opt=adam(3e-3),
    )


def diverging() -> Run:
    """Logistic regression on unnormalized inputs with a learning rate far too high: the loss
    blows up in the first steps and never comes back."""
    torch.manual_seed(0)
    x, y = moons(2000, 1)
    xv, yv = moons(1000, 2)
    return train(
        "diverging",
        mlp(32),
        (x * 1000, y),
        {"val": (xv * 1000, yv)},
        epochs=6,
        batch=64,
        make_opt=sgd(1e4),
    )


def overfitting() -> Run:
    """A wide MLP on 40 samples with 30% flipped labels, trained full-batch for long."""
    torch.manual_seed(0)
    x, y = moons(40, 3, noise=0.15)
    return train(
        "overfitting",
        mlp(256),
        (x, flip_labels(y, 0.3, 4)),
        {"val": moons(1000, 2)},
        epochs=300,
        batch=40,
        make_opt=adam(1e-2),
    )


def high_bias() -> Run:
    """A linear model on circles: it cannot represent the boundary."""
    torch.manual_seed(0)
    return train(
        "linear-on-circles",
        nn.Linear(2, 2),
        circles(2000, 1),
        {"val": circles(1000, 2)},
        epochs=12,
        batch=64,
        make_opt=adam(1e-2),
    )


def data_mismatch() -> Run:
    """Train and train-dev from one distribution; dev from a rotated (shifted) domain."""
    torch.manual_seed(0)
    xd, yd = blobs(1000, 3, sep=1.5)
    return train(
        "mismatch",
        mlp(32),
        blobs(2000, 1, sep=1.5),
        {"train-dev": blobs(1000, 2, sep=1.5), "val": (rotate(xd, 75), yd)},
        epochs=12,
        batch=64,
        make_opt=adam(3e-3),
    )


def gradient_ascent() -> Run:
    """The sign bug: ``(-loss).backward()`` with a small lr; the loss climbs steadily."""
    torch.manual_seed(0)
    return train(
        "ascent",
        mlp(32),
        moons(2000, 1),
        {"val": moons(1000, 2)},
        epochs=6,
        batch=64,
        make_opt=sgd(5e-3),
        ascend=True,
    )


def late_lr_jump() -> Run:
    """A schedule bug: the lr jumps 40x for the last fifth of training, the loss spikes."""
    torch.manual_seed(0)

    def lr_at(step: int, total: int) -> float:
        return 0.05 if step < 0.8 * total else 2.0

    return train(
        "late-lr-jump",
        mlp(32),
        moons(2000, 1),
        {"val": moons(1000, 2)},
        epochs=12,
        batch=32,
        make_opt=sgd(0.05),
        lr_at=lr_at,
    )


def converged_early() -> Run:
    """Logistic regression on overlapping Gaussian blobs (the right model) with a large Adam lr
    trained for many epochs: done after the first epoch or two."""
    torch.manual_seed(0)
    return train(
        "converged-early",
        nn.Linear(2, 2),
        blobs(2000, 1),
        {"val": blobs(4000, 2)},
        epochs=40,
        batch=256,
        make_opt=adam(0.1),
    )


def too_short() -> Run:
    """The same model with a small SGD lr and few epochs: still improving at the end."""
    torch.manual_seed(0)
    return train(
        "too-short",
        nn.Linear(2, 2),
        blobs(2000, 1),
        {"val": blobs(4000, 2)},
        epochs=10,
        batch=64,
        make_opt=sgd(3e-3),
    )


def heavy_dropout() -> Run:
    """Dropout 0.5 active only in training: the validation loss is lower than the training one."""
    torch.manual_seed(0)
    return train(
        "dropout",
        mlp(64, dropout=0.5),
        moons(2000, 1, noise=0.25),
        {"val": moons(1000, 2, noise=0.25)},
        epochs=12,
        batch=64,
        make_opt=adam(3e-3),
    )


def nll_on_logits() -> Run:
    """The bug NLLLoss-on-raw-logits: the logged classification loss goes negative."""
    torch.manual_seed(0)
    return train(
        "nll-on-logits",
        mlp(32),
        moons(2000, 1),
        {"val": moons(1000, 2)},
        epochs=4,
        batch=64,
        make_opt=adam(1e-3),
        loss_fn=F.nll_loss,
    )


def gaussian_nll_regression() -> Run:
    """A regression model with a learned variance: its NLL is legitimately negative."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2000, 1, generator=g) * 4 - 2
    y = torch.sin(2 * x) + 0.05 * torch.randn(2000, 1, generator=g)
    model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rec = Recorder()
    for step in range(600):
        idx = torch.randint(0, 2000, (64,), generator=g)
        mean, log_var = model(x[idx]).unbind(1)
        loss = F.gaussian_nll_loss(mean, y[idx, 0], log_var.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.log("train/loss", step, loss.item())
    return rec.run("gaussian-nll", {"train/loss": "train_nll"})


# Logs as files: real trainings written the way loggers write them --------------------------------

Event = tuple[int, dict[str, float]]


@dataclass
class Log:
    """What a training script logged, segment by segment (a resumed run has two or more), each
    event a step and the metrics logged at it, in the order they were written."""

    segments: list[list[Event]] = field(default_factory=lambda: [[]])

    def log(self, step: int, **metrics: float) -> None:
        self.segments[-1].append((step, {k: float(v) for k, v in metrics.items()}))

    def restart(self) -> None:
        self.segments.append([])

    @property
    def events(self) -> list[Event]:
        return [e for seg in self.segments for e in seg]


@dataclass
class _Checkpoint:
    model: dict[str, Tensor]
    opt: dict[str, object]
    epoch: int  # epochs done
    step: int  # steps done


def train_log(
    model: nn.Module,
    train_xy: tuple[Tensor, Tensor],
    evals: dict[str, tuple[Tensor, Tensor]],
    *,
    epochs: int,
    batch: int,
    make_opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    log: Log | None = None,
    per_step: bool = True,
    crash_at: int | None = None,
    resume_step_offset: int | None = None,
    eval_train: bool = False,
    seed: int = 0,
) -> Log:
    """Train with a checkpoint at every epoch end; log ``train_loss`` per step (``per_step``) or
    the epoch mean, ``train_acc`` per epoch and ``<split>_loss`` / ``<split>_acc`` per eval split.

    ``crash_at``: the process dies at that step; training then resumes from the last checkpoint
    in a new segment, its step counter restarting at the checkpoint's step, or at
    ``resume_step_offset`` + 0 when given (a script that counts from 0 again after loading).
    ``eval_train``: also evaluate the whole training set at each epoch end (``trainset_loss``).
    """
    import copy

    torch.manual_seed(seed)
    log = log or Log()
    x, y = train_xy
    opt = make_opt(list(model.parameters()))
    per_epoch = math.ceil(x.shape[0] / batch)
    ckpt = _Checkpoint(copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), 0, 0)
    epoch, step, shown = 0, 0, 0
    crashed = False
    while epoch < epochs:
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        model.train()
        perm = torch.randperm(x.shape[0], generator=g)
        correct, total_loss = 0, 0.0
        for i in range(per_epoch):
            if crash_at is not None and not crashed and step == crash_at:
                crashed = True
                model.load_state_dict(ckpt.model)
                opt.load_state_dict(ckpt.opt)
                epoch, step = ckpt.epoch, ckpt.step
                shown = step if resume_step_offset is None else resume_step_offset
                log.restart()
                break
            idx = perm[i * batch : (i + 1) * batch]
            out = model(x[idx])
            loss = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if per_step:
                log.log(shown, train_loss=loss.item())
            total_loss += loss.item() * idx.shape[0]
            correct += int((out.argmax(1) == y[idx]).sum())
            step += 1
            shown += 1
        else:
            metrics = {"train_acc": correct / x.shape[0]}
            if not per_step:
                metrics["train_loss"] = total_loss / x.shape[0]
            model.eval()
            with torch.no_grad():
                splits = dict(evals)
                if eval_train:
                    splits["trainset"] = (x, y)
                for split, (ex, ey) in splits.items():
                    out = model(ex)
                    metrics[f"{split}_loss"] = F.cross_entropy(out, ey).item()
                    metrics[f"{split}_acc"] = (out.argmax(1) == ey).float().mean().item()
            log.log(shown - 1 if per_step else epoch, **metrics)
            epoch += 1
            ckpt = _Checkpoint(
                copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), epoch, step
            )
    return log


def resumed(*, restart_counter: bool = False, crash_at: int = 250) -> Log:
    """A healthy run still improving at its end (MLP on moons, Adam 1e-3, 10 epochs of 32 steps)
    that dies at step ``crash_at`` and resumes from its last epoch checkpoint; the step counter
    goes back to the checkpoint's step, or to 0 with ``restart_counter``."""
    torch.manual_seed(0)
    return train_log(
        mlp(32),
        moons(2000, 1),
        {"val": moons(1000, 2)},
        epochs=10,
        batch=64,
        make_opt=adam(1e-3),
        crash_at=crash_at,
        resume_step_offset=0 if restart_counter else None,
    )


def small_batch(lr: float = 1e-3, *, seed: int = 0, eval_train: bool = False) -> Log:
    """An MLP on 400 moons points with batches of 4 (100 steps an epoch, 15 epochs): the
    per-batch loss is heavy-tailed (most batches near 0, a few misclassified points far up).
    With Adam 1e-3 a healthy run; with a far higher lr an unstable one."""
    torch.manual_seed(seed)
    return train_log(
        mlp(32),
        moons(400, 1, noise=0.15),
        {"val": moons(1000, 2, noise=0.15)},
        epochs=15,
        batch=4,
        make_opt=adam(lr),
        eval_train=eval_train,
        seed=seed,
    )


def shifted_test(*, per_step: bool = True) -> Log:
    """Train, train-dev and test logged, no validation split: train and train-dev from one
    distribution of blobs, test from the same blobs rotated by 75 degrees (the deployment data
    differs): a data mismatch."""
    torch.manual_seed(0)
    xt, yt = blobs(1000, 3, sep=1.5)
    return train_log(
        mlp(32),
        blobs(2000, 1, sep=1.5),
        {"train_dev": blobs(1000, 2, sep=1.5), "test": (rotate(xt, 75), yt)},
        epochs=12,
        batch=64,
        make_opt=adam(3e-3),
        per_step=per_step,
    )


def epoch_only(epochs: int = 10) -> Log:
    """Logistic regression on blobs with a small SGD lr, logged once an epoch (Keras' history):
    the validation loss falls every epoch to the end."""
    torch.manual_seed(0)
    return train_log(
        nn.Linear(2, 2),
        blobs(2000, 1),
        {"val": blobs(4000, 2)},
        epochs=epochs,
        batch=64,
        make_opt=sgd(3e-3),
        per_step=False,
    )


def epoch_only_converged(epochs: int = 8) -> Log:
    """The same model and data with Adam 0.1, logged once an epoch: done after an epoch or two."""
    torch.manual_seed(0)
    return train_log(
        nn.Linear(2, 2),
        blobs(2000, 1),
        {"val": blobs(4000, 2)},
        epochs=epochs,
        batch=256,
        make_opt=adam(0.1),
        per_step=False,
    )


def class_prior(majority: float = 0.8, *, per_step: bool = True) -> Log:
    """Labels independent of the inputs, one class ``majority`` of the time: the best a model can
    do is predict the prior, so its loss sits at the prior's entropy from the first steps and its
    accuracy at the majority rate. (A linear model with Adam 1e-2: it learns the prior fast.)"""
    torch.manual_seed(0)

    def data(n: int, seed: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, 2, generator=g), (torch.rand(n, generator=g) > majority).long()

    return train_log(
        nn.Linear(2, 2),
        data(2000, 1),
        {"val": data(1000, 2)},
        epochs=12,
        batch=64,
        make_opt=adam(1e-2),
        per_step=per_step,
    )
