"""Train / eval mode rules: dropout and batch-norm in the right mode, validation without autograd
(catalogue section ``mode``)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get
from dlpilot.tools.checks.rules._context import (
    Context,
    RuntimeCheck,
    eval_pass_loaders,
    evidence,
    trained_buckets,
)


class ModeChecks(RuntimeCheck):
    ids = (
        "mode.eval-during-training",
        "mode.train-during-eval",
        "mode.eval-grad-enabled",
        "mode.step-during-eval",
        "mode.dropout-always-on",
    )

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        mode = get(run.summary, "mode", default={})
        bad = int(get(mode, "eval_backwards", default=0))
        total = int(get(mode, "train_backwards", default=0))
        steps = int(get(run.summary, "steps", default=0))
        drop = get(run.summary, "dropout", default={})
        calls = int(get(drop, "eval_calls", default=0))
        if calls:
            yield evidence(
                ctx,
                run,
                "mode.dropout-always-on",
                f"Functional dropout ran active {calls} time(s) inside forwards of a model in "
                "eval mode: F.dropout(x, p) defaults to training=True, so model.eval() does not "
                "turn it off and validation is random and worse. Pass training=self.training "
                "(or use an nn.Dropout module).",
                step=get(drop, "eval_first_step"),
                where="dropout_eval",
                detail={"calls": calls},
            )
        evals, eval_flagged = eval_pass_loaders(run.summary, steps)
        bad -= eval_flagged  # those backwards are a validation pass, not training
        if evals:
            n = sum(int(r[1]) for r in evals)
            yield evidence(
                ctx,
                run,
                "mode.step-during-eval",
                f"{n} backward pass(es) ran on the batches of a loader walked with the model in "
                "eval mode (a validation pass), with optimizer steps in the same run: the model "
                "trains on its validation data, so validation scores are meaningless. Skip "
                "backward() and optimizer.step() when the epoch function evaluates (and wrap "
                "it in torch.no_grad()).",
                step=get(mode, "eval_first_step") if eval_flagged else None,
                detail={"backwards": n, "loaders": [int(r[0]) for r in evals]},
            )
        if bad > 0:
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
