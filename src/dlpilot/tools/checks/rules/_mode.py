"""Train / eval mode rules: dropout and batch-norm in the right mode, validation without autograd
(catalogue section ``mode``)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence, trained_buckets


class ModeChecks(RuntimeCheck):
    ids = ("mode.eval-during-training", "mode.train-during-eval", "mode.eval-grad-enabled")

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        mode = get(run.summary, "mode", default={})
        bad = int(get(mode, "eval_backwards", default=0))
        total = int(get(mode, "train_backwards", default=0))
        if bad:
            names = get(mode, "eval_names", default=[])
            yield evidence(
                ctx,
                run,
                "mode.eval-during-training",
                f"{bad} of {total} training steps ran with dropout / batch-norm modules in eval "
                f"mode ({', '.join(names[:4])}); call model.train() before training again "
                "(e.g. after validation).",
                step=get(mode, "eval_first_step"),
                where="eval_during_training",
                detail={"steps": bad, "training_steps": total, "modules": names},
            )
        val = trained_buckets(run, "val")
        train_mode = [b for b in val if int(b.get("train_mode", 0)) > 0]
        if train_mode:
            n = sum(int(b["train_mode"]) for b in train_mode)
            names = sorted({x for b in train_mode for x in b.get("train_mode_names", [])})
            first = min(int(b.get("first_step") or 0) for b in train_mode)
            b0 = train_mode[0]
            yield evidence(
                ctx,
                run,
                "mode.train-during-eval",
                f"{n} validation forward pass(es) ran with dropout / batch-norm in training mode "
                f"({', '.join(names[:4])}); call model.eval() before evaluating.",
                step=first,
                where=f"train_mode:{b0.get('ctx')}:{b0.get('grad_ctx')}",
                detail={"forwards": n, "modules": names},
            )
        grad = [b for b in val if b.get("ctx") is not None and int(b.get("grad", 0)) > 0]
        if grad:
            n = sum(int(b["grad"]) for b in grad)
            yield evidence(
                ctx,
                run,
                "mode.eval-grad-enabled",
                f"{n} validation forward pass(es) built autograd graphs; wrap evaluation in "
                "torch.no_grad() or torch.inference_mode().",
                detail={"forwards": n, "loaders": [b.get("ctx") for b in grad]},
            )
