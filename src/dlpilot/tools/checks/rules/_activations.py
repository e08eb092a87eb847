"""Activation rules: dead ReLU units and saturated sigmoid / tanh units (catalogue section
``act``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from pydantic import JsonValue

from dlpilot.findings import Finding
from dlpilot.tools.checks._evidence import ProbeRun, get
from dlpilot.tools.checks.rules._context import Context, RuntimeCheck, evidence

DEAD_RELU_SHARE = 0.7
"""checks.md [>= 70%], read per unit: a unit (channel / feature) is dead when it never output a
positive value in any sampled training batch; a layer with this share of dead units is flagged.
(Per element, 70% zeros is normal for a trained ReLU network; per unit it is not.)"""

DEAD_RELU_MIN_UNITS = 4
"""Layers narrower than this are not judged: one dead unit of three is chance."""

MIN_ACT_BATCHES = 2
"""Sampled batches a site must have been seen in."""

SATURATED_SHARE = 0.5
"""checks.md: > 50% of sigmoid / tanh pre-activations beyond +-5 (the probe's SATURATION_ABS)."""


class ActivationChecks(RuntimeCheck):
    ids = ("act.dead-relu", "act.saturated")

    def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
        dead, sat = [], []
        for a in get(run.summary, "acts", default=[]):
            if int(a.get("batches", 0)) < MIN_ACT_BATCHES:
                continue
            if a.get("kind") == "relu":
                units = int(a.get("units", 0))
                if (
                    units >= DEAD_RELU_MIN_UNITS
                    and int(a.get("dead", 0)) >= DEAD_RELU_SHARE * units
                ):
                    dead.append(a)
            elif int(a.get("numel", 0)) > 0:
                share = int(a.get("saturated", 0)) / int(a["numel"])
                if share > SATURATED_SHARE:
                    sat.append({**a, "share": share})
        if dead:
            sites = [f"{a['site']}: {a['dead']}/{a['units']} units dead" for a in dead]
            yield evidence(
                ctx,
                run,
                "act.dead-relu",
                f"ReLU layers where most units never activate: {'; '.join(sites[:4])}.",
                detail={"sites": cast(JsonValue, dead)},
            )
        if sat:
            sites = [f"{a['site']} ({a['kind']}): {a['share']:.0%} saturated" for a in sat]
            yield evidence(
                ctx,
                run,
                "act.saturated",
                f"Saturated {', '.join(sorted({a['kind'] for a in sat}))} units, so their "
                f"gradients vanish: {'; '.join(sites[:4])}.",
                detail={"sites": cast(JsonValue, sat)},
            )
