import json
from pathlib import Path

import pytest

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves.readers import read_run, read_runs


def _trainer_state(global_step: int, logging_steps: int = 10, eval_steps: int = 50) -> str:
    """trainer_state.json as transformers' TrainerState.save_to_json writes it:
    json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\\n"."""
    history: list[dict[str, float | int]] = []
    for step in range(logging_steps, global_step + 1, logging_steps):
        history.append(
            {
                "epoch": round(step / 100, 4),
                "grad_norm": 1.0 + step / 1000,
                "learning_rate": 5e-05 * (1 - step / 1000),
                "loss": round(2.0 / (1 + step / 100), 4),
                "step": step,
            }
        )
        if step % eval_steps == 0:
            history.append(
                {
                    "epoch": round(step / 100, 4),
                    "eval_accuracy": 0.5 + step / 4000,
                    "eval_loss": 2.5 / (1 + step / 100),
                    "eval_runtime": 1.234,
                    "eval_samples_per_second": 810.3,
                    "eval_steps_per_second": 101.3,
                    "step": step,
                }
            )
    if global_step >= 200:
        history.append(
            {
                "epoch": global_step / 100,
                "step": global_step,
                "total_flos": 1234567890.0,
                "train_loss": 0.777,
                "train_runtime": 60.5,
                "train_samples_per_second": 100.0,
                "train_steps_per_second": 3.3,
            }
        )
    state = {
        "best_global_step": None,
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": global_step / 100,
        "eval_steps": eval_steps,
        "global_step": global_step,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": logging_steps,
        "max_steps": 200,
        "num_input_tokens_seen": 0,
        "num_train_epochs": 2,
        "save_steps": 100,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {"should_epoch_stop": False, "should_save": True},
                "attributes": {},
            }
        },
        "total_flos": 1234567890.0,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


def test_log_history_gives_train_and_eval_curves_and_skips_the_final_summary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text(_trainer_state(200))
    run = read_run(path)
    assert run.format == "hf-trainer" and run.name == "out"
    loss = run.series["train/loss"]
    assert loss.original == "loss"
    assert loss.steps.tolist() == list(range(10, 201, 10))
    assert loss.values[-1] == pytest.approx(round(2.0 / 3.0, 4))  # not the run mean 0.777
    assert run.series["val/loss"].steps.tolist() == [50, 100, 150, 200]
    assert run.series["val/acc"].values[0] == pytest.approx(0.5125)
    assert run.series["lr"].original == "learning_rate"
    assert "grad_norm" in run.series and "epoch" in run.series
    assert "train/runtime" not in run.series and "total_flos" not in run.series
    assert run.warnings == []


def test_an_output_dir_reads_the_latest_checkpoint_state(tmp_path: Path) -> None:
    out = tmp_path / "output"
    for step in (50, 100, 150):
        ckpt = out / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text(_trainer_state(step))
        (ckpt / "model.safetensors").write_bytes(b"\0" * 16)
    runs = read_runs(out)
    assert len(runs) == 1
    run = runs[0]
    assert run.name == "output"
    assert run.source.endswith("checkpoint-150/trainer_state.json")
    assert run.series["train/loss"].steps[-1] == 150


def test_a_half_written_state_keeps_the_complete_log_entries_with_a_warning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "trainer_state.json"
    text = _trainer_state(100)
    cut = text.index('"step": 60') + 3  # inside the entry of step 60
    path.write_text(text[:cut])
    run = read_run(path)
    assert run.series["train/loss"].steps.tolist() == [10, 20, 30, 40, 50]
    assert any("half-written" in w for w in run.warnings)


def test_a_state_file_without_log_history_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{\n  "best_metric": nul')
    with pytest.raises(CurveReadError, match="trainer_state"):
        read_run(path)
