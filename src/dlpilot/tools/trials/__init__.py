"""Study design, Optuna studies, the trial launcher, GPU slots and pruning (later issue)."""

__all__: list[str] = []
