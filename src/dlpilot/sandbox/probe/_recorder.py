"""The coordinator: builds the observers, installs and removes their hooks, ends each step, and
assembles the summary from each observer's part.

Everything here runs inside the child, in the user's process, around the user's code. Rules:

* Never change what the script computes in script mode (only observe, and shorten epochs).
* Never sync the device per op: statistics that need a value on the host are taken on *sampled*
  steps only (the first :data:`~._context.DENSE_STEPS` steps, then every ``sample_every``-th),
  and reduced to one small host transfer each.
* Keep every aggregate fixed-size (each observer names its caps), so the evidence is bounded
  however long the script would train.
* Stop the script by raising :class:`StopProbe` (see ``_context``).

The observers, each owning its state and its part of the summary (``_schema.Summary``):

==================  ==========================================================================
``_modules``        module state: names, frozen modules, the models trained
``_loaders``        data loaders: role (train / val), epochs bounded, batch order (``loaders``)
``_forward``        top-level forwards, their buckets and inputs (``buckets``, ``overlap``,
                    ``first_layer_input``)
``_activations``    dead ReLU units, saturated sigmoid / tanh (``acts``)
``_loss``           the functional losses (``loss``, ``labels``, ``loss_calls``)
``_backward``       each backward (``mode``, ``amp``, part of ``loop``)
``_grads``          gradient flow and norms (``grads``)
``_optim``          optimizers, zeroing, updates, learning rates (``optimizers``, ``params``,
                    part of ``loop``)
``_clip``           gradient clipping against the backward of its step (``clip``)
``_fdropout``       functional dropout left active in eval-mode forwards (``dropout``)
``_retained``       loss graphs kept alive across steps (part of ``loop``)
``_overfit``        overfit mode's replay and regularization off (``overfit``)
``_frameworks``     a Lightning ``Trainer`` built with the probe's bounds as its own limits
==================  ==========================================================================
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import torch

from . import PROBE_VERSION
from ._activations import ActivationObserver
from ._backward import BackwardObserver
from ._clip import ClipObserver
from ._context import DENSE_STEPS, DLPILOT_DIR, Config, RunContext, StopProbe
from ._events import EventWriter
from ._fdropout import FunctionalDropoutObserver
from ._forward import ForwardObserver
from ._frameworks import FrameworkObserver
from ._grads import GradientObserver
from ._loaders import LoaderObserver
from ._loss import LossObserver
from ._modules import ModuleIndex
from ._optim import OptimizerObserver
from ._overfit import OverfitObserver
from ._retained import RetainedGraphs
from ._schema import Summary

MAX_STEP_EVENTS = 5000
"""Per-step events written at most (an overfit run of up to this many steps keeps its curve)."""

MAX_USER_FILES = 200
"""User source files listed at the end (the static rules inspect them)."""


class Recorder:
    """Installs the observers' hooks, ends each step, writes the events, decides when to stop."""

    def __init__(self, writer: EventWriter, config: Config) -> None:
        ctx = self.ctx = RunContext(writer, config)
        ctx.end_step = self._end_step
        ctx.hard_exit = self._hard_exit
        self.w = writer
        self.cfg = config
        self.modules = ModuleIndex(ctx)
        self.replay = OverfitObserver(ctx)
        self.retained = RetainedGraphs()
        self.acts = ActivationObserver(ctx, self.modules)
        self.loaders = LoaderObserver(ctx, new_batch=lambda: self.forward.reset())
        self.forward = ForwardObserver(ctx, self.modules, self.loaders, self.acts, self.replay)
        self.fdropout = FunctionalDropoutObserver(ctx, self.forward)
        self.grads = GradientObserver(ctx, self.modules, self.forward)
        self.optim = OptimizerObserver(ctx, self.modules, self.grads, self.replay)
        self.clip = ClipObserver(ctx)
        self.optim.clip = self.clip
        self.optim.first_epoch = self.loaders.first_train_epoch
        self.loss = LossObserver(ctx, self.retained, self.replay)
        self.backward = BackwardObserver(
            ctx,
            self.modules,
            self.forward,
            self.loaders,
            self.optim,
            self.grads,
            self.loss,
            self.retained,
            self.replay,
        )
        self.optim.on_step = self.backward.note_step
        self.frameworks = FrameworkObserver(ctx)
        self.exception: dict[str, Any] | None = None
        self._step_events = 0
        self._next_summary = 1

    @property
    def stop_reason(self) -> str | None:
        return self.ctx.stop_reason

    # --- install --------------------------------------------------------------------------------

    def install(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        self.forward.install()
        self.optim.install()
        self.clip.install()
        self.fdropout.install()
        self.backward.install()
        self.loss.install()
        self.loaders.install()
        self.acts.install()
        self.frameworks.install()
        if ctx.overfit:
            self.replay.install()
        ctx.active = True
        self.w.write(
            "start",
            essential=True,
            probe=PROBE_VERSION,
            torch=torch.__version__,
            mode=cfg.mode,
            bounds={
                "train_batches": cfg.train_batches,
                "val_batches": cfg.val_batches,
                "epochs": cfg.epochs,
                "max_steps": cfg.max_steps,
                "max_seconds": cfg.max_seconds,
                "overfit_steps": cfg.overfit_steps,
            },
            cuda=torch.cuda.is_available(),
        )

    def uninstall(self) -> None:
        self.ctx.undo_all()

    def _hard_exit(self) -> None:
        """The script keeps swallowing :class:`StopProbe` (``except BaseException``): write the
        evidence and end the process here."""
        self.uninstall()
        self.finish(self.ctx.stop_reason or "steps", 0)
        self.w.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    # --- steps ----------------------------------------------------------------------------------

    def _end_step(self) -> None:
        """End of a step: the step event, the retained-graph check, sampling, summaries."""
        ctx = self.ctx
        count = ctx.count()
        losses = self.backward.take_step_losses()
        fields: dict[str, Any] = {"n": count}
        if losses:
            fields["loss"] = sum(losses) / len(losses)
        acc = self.replay.take_accuracy()
        if acc is not None:
            fields["acc"] = acc
        lr = self.optim.lr()
        if lr is not None:
            fields["lr"] = lr
        if self._step_events < MAX_STEP_EVENTS:
            self._step_events += 1
            self.w.write("step", **fields)
        if not ctx.overfit:
            self.retained.check(count)
        ctx.sampled = (not ctx.overfit) and (
            count < DENSE_STEPS or count % max(ctx.cfg.sample_every, 1) == 0
        )
        if count >= self._next_summary:
            self._next_summary *= 2
            self.write_summary(final=False)

    # --- results --------------------------------------------------------------------------------

    def record_exception(self, exc: BaseException) -> None:
        tb = exc.__traceback__
        frames = traceback.extract_tb(tb) if tb is not None else []
        candidates = []
        for fr in frames:
            path = os.path.abspath(fr.filename)
            if path.startswith(DLPILOT_DIR) or "site-packages" in path or "dist-packages" in path:
                continue
            if path.startswith("<") or "/lib/python" in path:
                continue
            candidates.append(fr)
        preferred = [
            fr
            for fr in candidates
            if any(os.path.abspath(fr.filename).startswith(r) for r in self.cfg.roots)
        ]
        chosen = preferred or candidates
        user = chosen[-1] if chosen else None
        formatted = "".join(traceback.format_exception(type(exc), exc, tb))
        self.exception = {
            "type": type(exc).__name__,
            "qualname": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "message": str(exc)[:2000],
            "file": os.path.abspath(user.filename) if user else None,
            "line": user.lineno if user else None,
            "code": (user.line or "")[:300] if user else None,
            "traceback": formatted[-8000:],
            "step": self.ctx.count(),
        }
        self.w.write("exception", essential=True, **self.exception)

    def user_files(self) -> list[str]:
        out: list[str] = [self.cfg.script] if self.cfg.script else []
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None)
            if not isinstance(f, str) or not f.endswith(".py") or not os.path.isabs(f):
                continue
            path = os.path.normpath(f)
            if "site-packages" in path or "dist-packages" in path or "/.venv/" in path:
                continue
            if path.startswith(DLPILOT_DIR):
                continue
            if any(path.startswith(r + os.sep) for r in self.cfg.roots):
                out.append(path)
        return sorted(set(out))[:MAX_USER_FILES]

    def summary(self) -> Summary:
        ctx, optim, backward, retained = self.ctx, self.optim, self.backward, self.retained
        return {
            "steps": ctx.steps,
            "backwards": ctx.backwards,
            "forwards": ctx.forwards,
            "elapsed": round(ctx.elapsed(), 3),
            "loss_calls": self.loss.loss_calls,
            "optimizers": optim.summary(),
            "loaders": self.loaders.summary(),
            "buckets": self.forward.buckets(),
            "overlap": self.forward.overlap(),
            "loop": {
                "transitions": optim.transitions,
                "not_zeroed": optim.not_zeroed,
                "not_zeroed_first_step": optim.not_zeroed_first_step,
                "step_checks": optim.step_checks,
                "cleared": optim.cleared,
                "cleared_first_step": optim.cleared_first_step,
                "backward_twice": backward.backward_twice,
                "backward_twice_first_step": backward.backward_twice_first_step,
                "retained_max": retained.retained_max,
                "retained_first_step": retained.retained_first_step,
                "manual_update": backward.manual_update,
                "steps_without_backward": optim.steps_without_backward,
                "discarded_steps": optim.discarded_steps,
                "discarded_first_step": optim.discarded_first_step,
            },
            "clip": self.clip.evidence,
            "dropout": self.fdropout.evidence,
            "mode": backward.mode,
            "loss": self.loss.summary(),
            "labels": self.loss.labels(),
            "grads": self.grads.summary(has_optimizers=bool(optim.opts)),
            "params": optim.params(),
            "acts": self.acts.summary(),
            "first_layer_input": self.forward.first_layer_input(),
            "amp": backward.amp,
            "overfit": self.replay.summary(),
            "where": ctx.where,
        }

    def write_summary(self, final: bool) -> None:
        try:
            data: dict[str, Any] = dict(self.summary())
        except Exception as exc:
            data = {"error": f"{type(exc).__name__}: {exc}"}
        self.w.write("summary", essential=final, final=final, **data)

    def finish(self, reason: str, exit_code: int) -> None:
        ctx = self.ctx
        ctx.active = False
        self.write_summary(final=True)
        self.w.write(
            "end",
            essential=True,
            reason=reason,
            exit_code=exit_code,
            steps=ctx.steps,
            backwards=ctx.backwards,
            forwards=ctx.forwards,
            elapsed=round(ctx.elapsed(), 3),
            user_files=self.user_files(),
            dropped_events=self.w.dropped,
        )


__all__ = ["Config", "Recorder", "StopProbe"]
