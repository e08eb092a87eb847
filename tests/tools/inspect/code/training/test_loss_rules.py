from __future__ import annotations

from tests.tools.inspect.code.training._support import ids, lines_of, run_files

LOOP = """
for x, y in loader:
    optimizer.zero_grad()
    out = model(x)
    loss = criterion(out, y)
    loss.backward()
    optimizer.step()
"""


def test_a_sequential_ending_in_softmax_fed_to_cross_entropy_loss_is_reported():
    src = (
        """
import torch
import torch.nn as nn
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
"""
        + LOOP
    )
    assert lines_of(src, "loss.softmax-before-ce") == [11]


def test_functional_softmax_passed_to_functional_cross_entropy_is_reported():
    direct = (
        "import torch.nn.functional as F\nloss = F.cross_entropy(F.softmax(logits, dim=1), y)\n"
    )
    assert lines_of(direct, "loss.softmax-before-ce") == [2]
    via_name = """
import torch
import torch.nn.functional as F
def step(model, x, y):
    logits = model(x)
    probs = torch.softmax(logits, dim=-1)
    return F.cross_entropy(probs.view(-1, 10), y)
"""
    assert lines_of(via_name, "loss.softmax-before-ce") == [7]


def test_a_custom_module_returning_softmax_is_reported():
    src = (
        """
import torch
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.fc(x)
        return self.softmax(x)

model = Net().to("cpu")
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
"""
        + LOOP
    )
    assert lines_of(src, "loss.softmax-before-ce") == [22]


def test_a_model_class_from_another_file_is_judged_at_the_end():
    model_py = """
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
"""
    train_py = (
        """
import torch
import torch.nn as nn
from model import Net
model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
"""
        + LOOP
    )
    found = run_files({"model.py": model_py, "train.py": train_py})
    assert [(f.id, f.evidence[0].file) for f in found] == [("loss.softmax-before-ce", "train.py")]


def test_log_softmax_with_nll_loss_is_fine():
    src = (
        """
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)
model = Net()
criterion = nn.NLLLoss()
"""
        + LOOP
        + "\nloss2 = F.nll_loss(F.log_softmax(z, 1), y)\n"
    )
    assert ids(src) == []


def test_softmax_used_for_metrics_or_as_soft_targets_is_fine():
    src = """
import torch
import torch.nn.functional as F
for x, y in loader:
    optimizer.zero_grad()
    logits = model(x)
    probs = F.softmax(logits, dim=1)
    loss = F.cross_entropy(logits, y)
    kd = F.cross_entropy(logits, F.softmax(teacher_logits / 2.0, dim=1))
    loss.backward()
    optimizer.step()
    pred = probs.argmax(1)
"""
    assert ids(src) == []


def test_softmax_only_at_inference_time_in_forward_is_fine():
    src = (
        """
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def forward(self, x):
        logits = self.fc(x)
        if not self.training:
            return F.softmax(logits, dim=1)
        return logits
model = Net()
criterion = nn.CrossEntropyLoss()
"""
        + LOOP
    )
    assert ids(src) == []


def test_a_softmax_assigned_in_another_branch_is_not_guessed():
    src = """
import torch.nn.functional as F
if use_probs:
    out = F.softmax(logits, 1)
else:
    out = logits
loss = F.cross_entropy(out, y)
"""
    assert ids(src) == []


def test_sigmoid_output_into_bce_with_logits_is_reported():
    src = """
import torch
import torch.nn as nn
criterion = nn.BCEWithLogitsLoss()
for x, y in loader:
    optimizer.zero_grad()
    out = torch.sigmoid(model(x))
    loss = criterion(out, y)
    loss.backward()
    optimizer.step()
"""
    assert lines_of(src, "loss.sigmoid-before-bce-logits") == [8]
    functional = (
        "import torch.nn.functional as F\nF.binary_cross_entropy_with_logits(x.sigmoid(), y)\n"
    )
    assert lines_of(functional, "loss.sigmoid-before-bce-logits") == [2]


def test_a_sequential_ending_in_sigmoid_into_bce_with_logits_is_reported():
    src = (
        """
import torch.nn as nn
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)

model = Model()
criterion = nn.BCEWithLogitsLoss()
"""
        + LOOP
    )
    assert lines_of(src, "loss.sigmoid-before-bce-logits") == [17]


def test_sigmoid_with_bce_loss_or_logits_with_bce_with_logits_is_fine():
    src = """
import torch
import torch.nn as nn
bce = nn.BCELoss()
bcel = nn.BCEWithLogitsLoss()
out = model(x)
a = bce(torch.sigmoid(out), y)
b = bcel(out, y)
pred = torch.sigmoid(out) > 0.5
"""
    assert ids(src) == []


def test_log_softmax_into_cross_entropy_is_reported_as_the_catalogue_defines_it():
    functional = """
import torch.nn.functional as F
for x, y in loader:
    optimizer.zero_grad()
    logp = F.log_softmax(model(x), dim=-1)
    loss = F.cross_entropy(logp, y)
    loss.backward()
    optimizer.step()
"""
    module = (
        """
import torch.nn as nn
model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
"""
        + LOOP
    )
    for src in (functional, module):
        found = run_files({"train.py": src})
        assert [f.id for f in found] == ["loss.softmax-before-ce"], src
        assert found[0].evidence[0].detail["activation"] == "log_softmax"
        assert "idempotent" in found[0].message
