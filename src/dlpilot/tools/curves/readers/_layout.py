"""Which series play which part, from how runs are laid out on disk.

Two layouts put the split in the directory instead of the metric's name, so a reader alone sees
one run per split with every series named as if it were training:

- Keras' TensorBoard callback writes ``<run>/train/`` and ``<run>/validation/``, both with
  ``epoch_loss``, ``epoch_accuracy`` ...;
- ``SummaryWriter.add_scalars("loss", {"train": a, "val": b})`` writes ``<logdir>/loss_train/``
  and ``<logdir>/loss_val/``, each with the tag ``loss``, next to the writer's own events.

TensorBoard runs in such split directories are joined into one run of their parent directory, the
directory's split given to every series. Only when the layout is clear: the directories' series
name no split of their own, and there are two or more such directories under one parent, or one
under a parent that is a run itself. A lone directory called ``test`` is an experiment's name as
often as a split's, and runs whose tags say ``Loss/train`` are runs of their own.

And a run that logs no validation series but evaluates a ``test`` split during training (the
PyTorch tutorials' ``Loss/test``) uses that split as its dev set: it is read as ``val/*``, with a
note, so that every rule sees it where it looks for the dev curve. When the run logs train,
train-dev and test only, test is the deployment split (seed 001, section 1.2) and is read as the
dev set whatever its number of points, so the breakdown measures mismatch against it.

Train-dev is recognized by name in every layout: ``train_dev``, ``train-dev``, ``traindev``,
``holdout_train`` in a metric's name, a directory's name or an ``add_scalars`` key
(``accuracy_train_dev/``); see ``_names``.
"""

from __future__ import annotations

from pathlib import Path

from dlpilot.tools.curves._model import Run, Series
from dlpilot.tools.curves.readers._base import run_name_for
from dlpilot.tools.curves.readers._names import (
    names_a_split,
    normalize_in_phase,
    trailing_phase,
)

TEST_AS_DEV_MIN_POINTS = 3
"""Points a test series needs to count as evaluated during training (not once at the end)."""


def _dir_phase(name: str) -> str | None:
    """The split a directory is named for: ``validation`` -> "val", ``loss_val`` -> "val"
    (``add_scalars``' ``<tag>_<key>``), ``accuracy_train_dev`` -> "train-dev"; ``None`` for
    any other name."""
    return trailing_phase(name)


def join_split_dirs(runs: list[Run], sources: list[Path], root: Path) -> None:
    """Join TensorBoard runs kept in split directories into their parent's run (in place)."""
    children: dict[Path, list[tuple[int, str]]] = {}
    for i, (run, source) in enumerate(zip(runs, sources, strict=True)):
        if run.format != "tensorboard" or source == root or not source.is_dir():
            continue
        phase = _dir_phase(source.name)
        if phase is not None and not any(names_a_split(s.original) for s in run.series.values()):
            children.setdefault(source.parent, []).append((i, phase))
    drop: set[int] = set()
    for parent, members in children.items():
        host = next(
            (i for i, s in enumerate(sources) if s == parent and runs[i].format == "tensorboard"),
            None,
        )
        if len(members) < 2 and host is None:
            continue
        if host is None:
            slot = members[0][0]
            joined = Run(name=run_name_for(parent), source=str(parent), format="tensorboard")
        else:
            slot, joined = host, runs[host]
        for i, phase in members:
            _adopt(joined, runs[i], Path(runs[i].source).name, phase)
        runs[slot], sources[slot] = joined, parent
        drop.update(i for i, _ in members if i != slot)
    for i in sorted(drop, reverse=True):
        del runs[i]
        del sources[i]


def _adopt(into: Run, child: Run, dirname: str, phase: str) -> None:
    for s in child.series.values():
        original = f"{dirname}/{s.original}"
        name = normalize_in_phase(s.original, phase)
        if name in into.series:
            into.warnings.append(
                f"metrics {into.series[name].original!r} and {original!r} both normalize to "
                f"{name!r}; {original!r} is kept as {original.lower()!r}"
            )
            name = original.lower()
        into.series[name] = Series(name, original, s.steps, s.values, s.wall_times, s.resumed_at)
    into.warnings.extend(f"{dirname}: {w}" for w in child.warnings)
    into.resumed_at = sorted(set(into.resumed_at) | set(child.resumed_at))


def read_test_as_dev(run: Run) -> None:
    """Read a test split evaluated during training as the dev split when no validation split is
    logged (in place)."""
    names = list(run.series)
    if any(n.startswith("val/") for n in names):
        return
    tests = [n for n in names if n.startswith("test/")]
    # with a train-dev split logged, test is the deployment split of seed 001's Train / Train-Dev
    # / Dev-Test comparison, however often it was scored
    train_dev = any(n.startswith("train-dev/") for n in names)
    need = 1 if train_dev else TEST_AS_DEV_MIN_POINTS
    if not tests or max(len(run.series[n]) for n in tests) < need:
        return
    for n in tests:
        s = run.series.pop(n)
        name = "val/" + n[len("test/") :]
        run.series[name] = Series(name, s.original, s.steps, s.values, s.wall_times, s.resumed_at)
    shown = ", ".join(run.series["val/" + n[5:]].original for n in tests[:4])
    if train_dev:
        run.warnings.append(
            f"no validation series: train, train-dev and test are logged, so {shown} "
            f"({'is' if len(tests) == 1 else 'are'} the deployment split) "
            "is read as the dev set: the mismatch breakdown compares it with train-dev"
        )
        return
    run.warnings.append(
        f"no validation series: {shown} {'is' if len(tests) == 1 else 'are'} evaluated during "
        "training, so that test split is read as the dev (validation) set"
    )


__all__ = ["TEST_AS_DEV_MIN_POINTS", "join_split_dirs", "read_test_as_dev"]
