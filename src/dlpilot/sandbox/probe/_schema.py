"""The contract between the probe (in the child) and the rules (in the parent): the events the
probe writes, the summary it aggregates, and the probe's bound defaults, each declared once.

Standard library only: the child imports this beside torch, the parent (which never imports
torch) imports it to read the evidence, both through ``dlpilot.sandbox.probe``.

Reading the summary:

* Every key of :class:`Summary` is present in each ``summary`` event (``NotRequired`` marks the
  few that are not), except in a summary that failed to build: then the event holds only
  ``error`` (:class:`SummaryError`).
* The event file is JSON: a float that is not finite arrives as the string ``"nan"``,
  ``"inf"`` or ``"-inf"``; such fields are typed :data:`Real` (read them with
  ``dlpilot.tools.checks._evidence.num``). Tuples arrive as lists.

Training or validation, decided once: the probe records the role of each forward context in
``BucketSummary.role`` (and of each loader in ``LoaderSummary.kind``), both :data:`Role`:

* ``"train"``: a loader whose batches fed a backward pass, or forwards outside any loader with
  grad enabled;
* ``"val"``: a loader iterated again without a backward since its previous batch, or forwards
  outside any loader with grad disabled (``no_grad`` / ``inference_mode``);
* ``"unknown"``: a loader not seen long enough to tell (one batch and no backward yet).

The rules read ``bucket["role"]`` (together with ``bucket["trained"]``: whether a backward ever
ran through the bucket's model) instead of re-deriving it from ``ctx``, ``ctx_kind`` and
``grad_ctx``; those three stay in the summary as the facts behind it.
"""

from typing import Any, Literal, NotRequired, TypedDict

# --- the probe's bounds (command-line defaults of ``python -m dlpilot.sandbox.probe``) ---------

DEFAULT_TRAIN_BATCHES = 20
"""Training batches per epoch in script mode (Lightning's ``limit_train_batches`` idea): enough
for the statistics, few enough for seconds on a CPU."""

DEFAULT_VAL_BATCHES = 5
"""Validation batches per pass: mode and no_grad bugs show on the first batch already."""

DEFAULT_EPOCHS = 2
"""Epochs before the script is stopped: two show the train -> validate -> train transition."""

DEFAULT_MAX_STEPS = 200
"""Step bound for scripts without a DataLoader: passes an epoch boundary of a small script."""

DEFAULT_MAX_SECONDS = 120.0
"""The probe's own time bound when none is given (the parent passes a share of its timeout)."""

DEFAULT_OVERFIT_STEPS = 200
"""Steps of the single-batch overfit test: seed 004 says 200-500; 200 keeps a small CPU model
within seconds."""

DEFAULT_SAMPLE_EVERY = 10
"""After the first dense steps, statistics that need a host transfer are taken every n-th step."""

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""Hard cap of the event file; the aggregates need far less, this only guards against bugs."""

MAX_NAMES = 12
"""Parameter or module names kept per finding-worthy list of the summary."""

MAX_SERIES = 200
"""Points kept per series of the summary (gradient norms, update ratios)."""


# --- shared value types --------------------------------------------------------------------------

NonFinite = Literal["nan", "inf", "-inf"]
"""How the event writer spells a float that is not finite (JSON has no NaN)."""

Real = float | NonFinite
"""A float that may be non-finite (NaN loss, Inf gradient norm)."""

Role = Literal["train", "val", "unknown"]
"""What a loader or a forward context is used for (see the module docstring)."""

Mode = Literal["script", "overfit"]

EndReason = Literal["finished", "epochs", "steps", "time", "overfit-steps", "exception", "exit"]
"""Why the run stopped: the script finished, or a bound was reached, or it failed."""


class Bounds(TypedDict):
    """The bounds a run was started with (the ``start`` event's ``bounds``)."""

    train_batches: int
    val_batches: int
    epochs: int
    max_steps: int
    max_seconds: float
    overfit_steps: int


# --- the summary ---------------------------------------------------------------------------------


class LrAbovePeak(TypedDict):
    """The step where the learning rate used stood highest against the configured peak."""

    ratio: float
    lr: float
    peak: float
    group: int
    step: int


class LrDrop(TypedDict):
    """The step of the first half of the first training epoch where the rate used stood lowest
    against the highest rate used before it (a rate that climbs, as in a warm-up, drops
    nothing)."""

    ratio: float
    lr: float
    before: float
    group: int
    step: int
    epoch_steps: int | None
    """Optimizer steps the first training epoch would take unbounded (``len`` of its loader)."""


class OptimizerSummary(TypedDict):
    oid: int
    type: str
    steps: int
    params: int
    max_change: Real | None
    """Largest parameter change since the first step (checked at power-of-two steps)."""
    change_checked_at: int
    lr: list[Real | None]
    """The rate of each parameter group (at most 8) now."""
    lr_built: list[float | None] | None
    """The rate of each group when the optimizer was built."""
    lr_above_peak: LrAbovePeak | None
    lr_drop: LrDrop | None


class LoaderMeta(TypedDict):
    """What a DataLoader is (the ``loader`` event's ``meta``)."""

    sampler: str | None
    batch_sampler: str | None
    shuffle: bool
    batch_size: int | None
    dataset: str
    dataset_len: int | None
    num_workers: int
    iterable: bool


class LoaderSummary(LoaderMeta):
    lid: int
    kind: Role
    epochs: int
    """Times the loader was iterated."""
    batches: int
    same_order: bool | None
    """Whether two epochs began with the same batches (None: fewer than two epochs seen)."""
    iter_at: int
    """The run's backward count when the loader's latest epoch began (also an epoch the probe
    stopped at its start): orders epochs across loaders."""


class BucketSummary(TypedDict):
    """The forwards of one top-level model in one context: a loader, or no loader with grad on or
    off. Input statistics are taken on sampled steps."""

    top: int
    """Which top-level module (an id, stable within the run)."""
    trained: bool
    """Whether a backward ever ran through this model's output."""
    ctx: int | None
    """The loader's ``lid``, or None for forwards outside any loader."""
    ctx_kind: Role | None
    """The loader's kind (None outside any loader)."""
    grad_ctx: bool | None
    """Outside any loader: whether grad was enabled (None inside a loader)."""
    role: Role
    """Training or validation, decided by the probe (see the module docstring)."""
    n: int
    grad: int
    nograd: int
    train_mode: int
    """Forwards with a dropout / batch-norm module in training mode."""
    nograd_train_mode: int
    train_mode_names: list[str]
    first_step: int | None
    """The step of the first forward in training mode."""
    stats_n: int
    nonfinite: int
    nonfinite_step: int | None
    rms_max: float
    absmax: float
    constant_batches: int
    float_input: bool
    dtype: str
    shape: list[int]
    rows: int
    """Distinct input rows hashed."""
    constant_rows: int


class Overlap(TypedDict):
    """Input rows seen both in training and in validation."""

    train_rows: int
    val_rows: int
    shared_rows: int
    passes_over_training_data: int


class LoopEvidence(TypedDict):
    transitions: int
    not_zeroed: int
    not_zeroed_first_step: int | None
    step_checks: int
    cleared: int
    cleared_first_step: int | None
    backward_twice: int
    backward_twice_first_step: int | None
    retained_max: int
    retained_first_step: int | None
    manual_update: bool | None
    steps_without_backward: int
    discarded_steps: int
    """Optimizer steps before which at least two backwards' gradients were reset unused."""
    discarded_first_step: int | None


class ModeEvidence(TypedDict):
    train_backwards: int
    eval_backwards: int
    eval_first_step: int | None
    eval_names: list[str]
    loaders: list[list[int]]
    """Per loader whose batches were back-propagated (at most 32): [lid, backwards, backwards
    with the model in eval mode (``model.training`` False), backwards through dropout /
    batch-norm modules left in eval mode, optimizer steps taken while its batch was current, the
    run's backward count at its first and at its last backward (their order across loaders)]."""


class DropoutEvidence(TypedDict):
    """Functional dropout asked to be active inside a forward of a model in eval mode."""

    eval_calls: int
    eval_first_step: int | None


class ClipEvidence(TypedDict):
    """Gradient clipping against the backward of its step (``_clip``)."""

    clipped_steps: int
    """Optimizer steps preceded by a clip call since the previous step."""
    early_steps: int
    """Of those, steps whose every clip call ran before the backward that filled the gradients."""
    early_first_step: int | None


class FirstClassLoss(TypedDict):
    fn: str
    value: Real
    classes: int
    reduction: str
    step: int


class CeExample(TypedDict):
    fn: str
    min: Real
    max: Real
    row_sum_dev: Real
    logsumexp_dev: Real


class BcelExample(TypedDict):
    min: float
    max: float
    numel: int


class NegativeLoss(TypedDict):
    fn: str
    value: float
    step: int


class LossEvidence(TypedDict):
    first_class_loss: FirstClassLoss | None
    ce_sampled: int
    ce_prob_like: int
    ce_logprob_like: int
    ce_example: CeExample | None
    bcel_sampled: int
    bcel_unit: int
    bcel_numel: int
    bcel_example: BcelExample | None
    nonfinite_step: int | None
    nonfinite_fn: str | None
    negative: NegativeLoss | None
    values: int


class BinaryTargets(TypedDict):
    pos: float
    n: float


class FloatTargets(TypedDict):
    n: int
    min: float | None
    max: float | None
    nonfinite: int


class Labels(TypedDict):
    batches: list[list[float]]
    """Per training batch: [min label, max label, 1 if sorted else 0, labels]."""
    class_counts: list[int] | None
    ignored_classes: list[int]
    class_batches: int
    binary: BinaryTargets
    target_float: FloatTargets


class Grads(TypedDict):
    sampled_steps: int
    nonfinite_step: int | None
    nonfinite_names: list[str]
    series: list[list[Real | None]]
    """Per sampled step: [step, total norm, first layer's norm or None, last layer's or None]."""
    first_layer: str | None
    last_layer: str | None
    params: int
    no_flow: list[str]
    no_flow_count: int
    not_in_optimizer: list[str]
    not_in_optimizer_count: int
    frozen: int


class Params(TypedDict):
    nonfinite_step: int | None
    nonfinite_names: NotRequired[list[str]]
    ratio: list[list[Real | None]]
    """Per sampled step: [step, median log10 update/weight ratio or None, lr or None,
    parameters whose ratio was zero or not finite]."""


class ActivationSite(TypedDict):
    """One ReLU (``units``, ``dead``) or sigmoid / tanh (``numel``, ``saturated``) call site."""

    kind: Literal["relu", "sigmoid", "tanh"]
    site: str
    batches: int
    units: NotRequired[int]
    dead: NotRequired[int]
    numel: NotRequired[int]
    saturated: NotRequired[int]


class FirstLayerInput(TypedDict):
    n: int
    rms_max: float
    absmax: float
    type: str | None
    normalizes: bool


class Amp(TypedDict):
    fp16_backwards: int
    fp16_first_step: int | None
    scaler: bool


class OverfitEvidence(TypedDict):
    replayed: int
    tops: int


class Summary(TypedDict):
    """Everything the rules read, aggregated over the run so far."""

    steps: int
    backwards: int
    forwards: int
    elapsed: float
    loss_calls: dict[str, int]
    optimizers: list[OptimizerSummary]
    loaders: list[LoaderSummary]
    buckets: list[BucketSummary]
    overlap: Overlap
    loop: LoopEvidence
    clip: ClipEvidence
    dropout: DropoutEvidence
    mode: ModeEvidence
    loss: LossEvidence
    labels: Labels
    grads: Grads
    params: Params
    acts: list[ActivationSite]
    first_layer_input: FirstLayerInput
    amp: Amp
    overfit: OverfitEvidence
    where: dict[str, list[str | int]]
    """First user-code location per evidence key: [absolute path, line]."""


# --- the events ----------------------------------------------------------------------------------


class Event(TypedDict):
    ev: str
    t: float
    """Seconds since the probe started."""


class StartEvent(Event):
    probe: int
    torch: str
    mode: Mode
    bounds: Bounds
    cuda: bool


class LoaderEvent(Event):
    lid: int
    meta: LoaderMeta


class OptimizerEvent(Event):
    oid: int
    type: str
    groups: list[dict[str, int | float | bool | str]]
    params: int


class StepEvent(Event):
    n: int
    loss: NotRequired[Real]
    acc: NotRequired[float]
    lr: NotRequired[float]


class ObsEvent(Event):
    kind: str
    step: int
    where: list[str | int] | None
    detail: dict[str, Any]


class SummaryEvent(Summary, Event):
    final: bool


class SummaryError(Event):
    final: bool
    error: str


class ExceptionEvent(Event):
    type: str
    qualname: str
    message: str
    file: str | None
    line: int | None
    code: str | None
    traceback: str
    step: int


class EndEvent(Event):
    reason: EndReason
    exit_code: int
    steps: int
    backwards: int
    forwards: int
    elapsed: float
    user_files: list[str]
    dropped_events: int


class ProcessEvent(Event):
    """Under a launcher (``torchrun``, ``bash run.sh``): which process wrote this event file."""

    pid: int
    ppid: int
    rank: int | None
    local_rank: int | None
    world_size: int | None
    argv: list[str]


class ProbeErrorEvent(Event):
    where: str
    error: str


__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_OVERFIT_STEPS",
    "DEFAULT_SAMPLE_EVERY",
    "DEFAULT_TRAIN_BATCHES",
    "DEFAULT_VAL_BATCHES",
    "MAX_NAMES",
    "MAX_SERIES",
    "ActivationSite",
    "Bounds",
    "BucketSummary",
    "EndEvent",
    "EndReason",
    "ExceptionEvent",
    "LoaderEvent",
    "LoaderSummary",
    "ObsEvent",
    "OptimizerEvent",
    "OptimizerSummary",
    "ProbeErrorEvent",
    "ProcessEvent",
    "Real",
    "Role",
    "StartEvent",
    "StepEvent",
    "Summary",
    "SummaryError",
    "SummaryEvent",
]
