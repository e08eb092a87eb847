"""Whether train / eval mode can matter for a file's code (``training/_modescope.py``): judged
on the files it can reach, through the mode rule and on its own."""

from __future__ import annotations

from dlpilot.tools.inspect.code.training._modescope import ModeScope, mode_facts
from tests.tools.inspect.code.training._support import run_files

PLAIN_CONV_NET = """
import torch
import torch.nn as nn

class Upscaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1)
        )
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.body(x))
"""

NEVER_SWITCHES_MODE = """
import torch
from nets import Upscaler

net = Upscaler()
opt = torch.optim.Adam(net.parameters())

def fit():
    for x, y in train_loader:
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()

def test():
    with torch.no_grad():
        for x, y in held_out_loader:
            print(torch.nn.functional.mse_loss(net(x), y).item())

for epoch in range(3):
    fit()
    test()
"""


def test_evaluating_in_train_mode_is_moot_when_the_project_model_has_no_mode_dependent_layer():
    found = run_files({"nets.py": PLAIN_CONV_NET, "main.py": NEVER_SWITCHES_MODE})
    assert "mode.train-during-eval" not in [f.id for f in found]


def test_evaluating_in_train_mode_is_reported_once_the_project_model_has_dropout():
    with_dropout = PLAIN_CONV_NET.replace("nn.ReLU(),", "nn.ReLU(), nn.Dropout2d(0.1),")
    found = run_files({"nets.py": with_dropout, "main.py": NEVER_SWITCHES_MODE})
    assert "mode.train-during-eval" in [f.id for f in found]
    # a model the project does not define may have any layer: still reported
    found = run_files({"main.py": NEVER_SWITCHES_MODE})
    assert "mode.train-during-eval" in [f.id for f in found]


def test_mode_is_judged_per_example_in_a_repository_of_several():
    # pytorch/examples style: one example's model has dropout, another's has none; the second
    # example imports its own nets.py, not the first one's
    with_dropout = PLAIN_CONV_NET.replace("nn.ReLU(),", "nn.ReLU(), nn.Dropout2d(0.1),")
    files = {
        "sr/nets.py": PLAIN_CONV_NET,
        "sr/main.py": NEVER_SWITCHES_MODE,
        "lm/nets.py": with_dropout,
        "lm/main.py": NEVER_SWITCHES_MODE,
    }
    found = [(f.id, f.evidence[0].file) for f in run_files(files)]
    assert ("mode.train-during-eval", "lm/main.py") in found
    assert ("mode.train-during-eval", "sr/main.py") not in found


def test_a_model_imported_from_a_package_elsewhere_in_the_repository_is_followed():
    with_dropout = PLAIN_CONV_NET.replace("nn.ReLU(),", "nn.ReLU(), nn.Dropout2d(0.1),")
    main = NEVER_SWITCHES_MODE.replace("from nets import", "from mypkg.nets import")
    files = {"src/mypkg/nets.py": with_dropout, "scripts/main.py": main}
    found = [(f.id, f.evidence[0].file) for f in run_files(files)]
    assert ("mode.train-during-eval", "scripts/main.py") in found


def test_a_file_with_a_mode_dependent_layer_or_a_library_model_is_mode_sensitive() -> None:
    assert mode_facts("self.drop = nn.Dropout(0.1)").sensitive
    assert mode_facts("model = timm.create_model('resnet50')").sensitive
    plain = mode_facts(PLAIN_CONV_NET)
    assert not plain.sensitive
    assert plain.defines_module
    assert ("", "torch") in plain.imports and ("", "torch.nn") in plain.imports


def test_mode_matters_only_where_the_reachable_models_can_compute_differently() -> None:
    with_dropout = PLAIN_CONV_NET.replace("nn.ReLU(),", "nn.ReLU(), nn.Dropout2d(0.1),")
    files = {
        "sr/nets.py": mode_facts(PLAIN_CONV_NET),
        "sr/main.py": mode_facts(NEVER_SWITCHES_MODE),
        "lm/nets.py": mode_facts(with_dropout),
        "lm/main.py": mode_facts(NEVER_SWITCHES_MODE),
    }
    matters = ModeScope(files)
    assert not matters("sr/main.py")
    assert matters("lm/main.py")
    assert matters("elsewhere.py")  # a file not seen: nothing says the mode is moot
    assert matters(None)
