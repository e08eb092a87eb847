from __future__ import annotations

import ast

from dlpilot.tools.inspect.code._names import (
    is_model_name,
    is_optimizer_name,
    is_scheduler_name,
    last_name,
    names_eval,
    names_progress,
    role,
    state_component,
)


def test_a_role_is_read_from_the_words_of_a_name() -> None:
    assert role("train_loader") == "train"
    assert role("trainset") == "train"
    assert role("val_ds") == "eval"
    assert role("testLoader") == "eval"
    assert role("eval_dataset") == "eval"


def test_words_that_only_start_like_a_role_name_no_role() -> None:
    assert role("interval") is None
    assert role("value") is None
    assert role("trainer") is None
    assert role("loader") is None
    assert role("train_val_split") is None  # both: says neither


def test_a_step_receiver_is_an_optimizer_only_when_its_name_says_so() -> None:
    assert is_optimizer_name("self.optimizer")
    assert is_optimizer_name("opt_d")
    assert not is_optimizer_name("scheduler")
    assert not is_optimizer_name("lr_opt")
    assert is_optimizer_name("lr_opt", known={"lr_opt"})
    assert is_scheduler_name("warmup")


def test_a_saved_value_is_read_as_the_part_of_the_training_state_its_name_says() -> None:
    assert state_component("optimizer_state") == "optimizer"
    assert state_component("optG") == "optimizer"
    assert state_component("lr_scheduler") == "scheduler"
    assert state_component("global_step") == "progress"
    assert state_component("model_state_dict") == "model"
    assert state_component("best_acc") is None
    assert names_progress("epoch") and not names_progress("loss")


def test_a_models_weights_are_its_state_but_calling_them_runs_no_model() -> None:
    # the two judgments share the model words; each adds only what it can judge safely
    assert state_component("weights") == "model"
    assert not is_model_name("weights")
    assert state_component("ema") == "model"
    assert not is_model_name("schema")
    for shared in ("model", "encoder", "generator", "backbone", "policy"):
        assert is_model_name(shared) and state_component(shared) == "model"


def test_net_and_actor_name_a_saved_model_only_at_a_words_edge() -> None:
    assert is_model_name("subnet")
    assert state_component("subnet_mask") is None
    assert state_component("net_g") == "model"
    assert state_component("factor") is None


def test_the_last_name_of_a_callee() -> None:
    call = ast.parse("torch.utils.data.DataLoader(ds)").body[0].value  # type: ignore[attr-defined]
    assert last_name(call.func) == "DataLoader"
    assert last_name(call) == "DataLoader"


def test_names_eval_finds_a_held_out_word_anywhere_and_role_needs_it_alone():
    for text in [
        "val_loss",
        '"valid/acc"',
        "evaluate(model, test_loader)",
        "devloader",
        "self.testset",
        "train_eval",
    ]:
        assert names_eval(text), text
    for text in ["interval", "value", "latest", "device", "retrieval", "train_loss", "", None]:
        assert not names_eval(text), text
    assert role("train_eval") is None  # both words: the stricter question says neither
    assert role("val_acc") == "eval"
