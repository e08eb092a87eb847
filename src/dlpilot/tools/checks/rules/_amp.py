"""Mixed-precision rule: float16 autocast without a GradScaler (catalogue section ``amp``)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence


class AmpChecks(RuntimeCheck):
    ids = ("amp.no-grad-scaler",)

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        amp = get(run.summary, "amp", default={})
        n = int(get(amp, "fp16_backwards", default=0))
        if n and not amp.get("scaler"):
            yield evidence(
                ctx,
                run,
                "amp.no-grad-scaler",
                f"{n} training step(s) ran forward under float16 autocast without a "
                "GradScaler: small gradients underflow to zero. Use torch.amp.GradScaler "
                "(or bfloat16).",
                step=get(amp, "fp16_first_step"),
                where="fp16_backward",
                detail={"fp16_steps": n},
            )
