from __future__ import annotations

from pathlib import Path

from dlpilot.tools.inspect import InspectionReport, inspect_repo, render_text
from dlpilot.tools.inspect.repo._deps import unpinned_requirements
from dlpilot.tools.inspect.repo._gitchecks import LARGE_ARTIFACT_BYTES

from .._gitrepo import git, make_repo, write

README = "# proj\n\nInstall with `pip install -r requirements.txt`, run `python train.py`.\n"
CLEAN = {
    "README.md": README,
    "requirements.txt": "torch==2.3.1\nnumpy==1.26.4\n",
    "train.py": "import torch\ntorch.save(model.state_dict(), 'checkpoints/last.pt')\n",
    "tests/test_train.py": "def test_x():\n    assert True\n",
    ".gitignore": "checkpoints/\ndata/\n*.pt\nruns/\nwandb/\n",
}


def _ids(report: InspectionReport) -> set[str]:
    return {f.id for f in report.findings}


def _clean(tmp_path: Path, **extra: str | bytes) -> Path:
    return make_repo(tmp_path / "r", {**CLEAN, **extra})


def test_a_clean_committed_project_has_no_repository_findings(tmp_path: Path) -> None:
    report = inspect_repo(_clean(tmp_path))
    repo_ids = {i for i in _ids(report) if i.startswith(("repo.", "repro.unpinned"))}
    assert repo_ids == set()
    assert report.not_checked == []


def test_a_missing_readme_is_reported(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {k: v for k, v in CLEAN.items() if k != "README.md"})
    assert "repo.no-readme" in _ids(inspect_repo(root))


def test_a_readme_without_setup_instructions_is_reported_at_the_readme(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{"README.md": "# Cool model\n\nIt is cool.\n"})
    [f] = inspect_repo(root).by_id("repo.no-readme")
    assert f.evidence[0].file == "README.md"


def test_a_project_without_tests_is_reported(tmp_path: Path) -> None:
    files = {k: v for k, v in CLEAN.items() if not k.startswith("tests/")}
    assert "repo.no-tests" in _ids(inspect_repo(make_repo(tmp_path / "r", files)))


def test_a_test_file_outside_a_tests_directory_counts_as_tests(tmp_path: Path) -> None:
    files = {k: v for k, v in CLEAN.items() if not k.startswith("tests/")}
    files["model_test.py"] = "def test_m():\n    pass\n"
    assert "repo.no-tests" not in _ids(inspect_repo(make_repo(tmp_path / "r", files)))


def test_an_existing_checkpoint_directory_that_git_does_not_ignore_is_reported(
    tmp_path: Path,
) -> None:
    root = _clean(tmp_path, **{".gitignore": "__pycache__/\n"})
    write(root, {"checkpoints/epoch1.pt": b"\x00" * 10, "lightning_logs/v0/metrics.csv": "a\n"})
    found = inspect_repo(root).by_id("repo.gitignore-artifacts")
    paths = {f.evidence[0].detail["path"] for f in found}
    assert {"checkpoints/", "lightning_logs/"} <= paths


def test_a_path_the_code_writes_to_is_reported_with_the_line_that_writes_it(
    tmp_path: Path,
) -> None:
    root = _clean(
        tmp_path,
        **{
            ".gitignore": "",
            "train.py": "import torch\n\ntorch.save(state, f'checkpoints/epoch_{e}.pt')\n",
        },
    )
    [f] = inspect_repo(root).by_id("repo.gitignore-artifacts")
    assert f.evidence[0].location() == "train.py:3"
    assert f.evidence[0].detail["path"] == "checkpoints/"


def test_default_tracker_directories_count_as_written(tmp_path: Path) -> None:
    root = _clean(
        tmp_path,
        **{
            ".gitignore": "checkpoints/\n",
            "log.py": "import wandb\nwandb.init(project='p')\n"
            "from torch.utils.tensorboard import SummaryWriter\nw = SummaryWriter()\n",
        },
    )
    paths = {
        f.evidence[0].detail["path"] for f in inspect_repo(root).by_id("repo.gitignore-artifacts")
    }
    assert paths == {"wandb/", "runs/"}


def test_artifact_paths_in_comments_and_in_embedded_programs_are_not_writes(
    tmp_path: Path,
) -> None:
    fixture = (
        "# old layout: torch.save(state, 'runs/exp1/best.pt')\n"
        'PROGRAM = """\n'
        "import torch\n"
        "torch.save(state, 'runs/exp1/best.pt')\n"
        '"""\n'
        "# with lightning, a bare Trainer(max_epochs=1) logs to lightning_logs/\n"
        "HINT = 'lightning: call Trainer(max_epochs=1)'\n"
    )
    root = _clean(tmp_path, **{".gitignore": "checkpoints/\n", "rules.py": fixture})
    assert not inspect_repo(root).by_id("repo.gitignore-artifacts")


def test_a_lightning_trainer_call_writes_lightning_logs(tmp_path: Path) -> None:
    code = "import lightning as L\ntrainer = L.Trainer(max_epochs=1)\n"
    root = _clean(tmp_path, **{".gitignore": "checkpoints/\n", "fit.py": code})
    [f] = inspect_repo(root).by_id("repo.gitignore-artifacts")
    assert f.evidence[0].detail["path"] == "lightning_logs/"
    assert f.evidence[0].location() == "fit.py:2"


def test_a_python_package_named_data_is_code_not_an_artifact_directory(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{"data/__init__.py": "", "data/dataset.py": "class D: ...\n"})
    assert not inspect_repo(root).by_id("repo.gitignore-artifacts")


def test_ignored_artifacts_with_a_kept_placeholder_are_fine(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{".gitignore": "data/*\n!data/.gitkeep\n*.pt\n", "data/.gitkeep": ""})
    write(root, {"data/train.csv": "x\n1\n", "checkpoints/a.pt": b"\x00"})
    assert not inspect_repo(root).by_id("repo.gitignore-artifacts")


def test_a_committed_checkpoint_above_the_threshold_is_reported_with_its_size(
    tmp_path: Path,
) -> None:
    big = b"\x01" * (LARGE_ARTIFACT_BYTES + 1)
    root = make_repo(tmp_path / "r", {**CLEAN, ".gitignore": "", "model.pt": big, "small.pt": b"1"})
    [f] = inspect_repo(root).by_id("repo.large-files")
    assert f.evidence[0].file == "model.pt"
    assert f.evidence[0].detail["bytes"] == len(big)


def test_small_committed_files_are_not_large(tmp_path: Path) -> None:
    assert not inspect_repo(_clean(tmp_path)).by_id("repo.large-files")


def test_uncommitted_changes_are_counted(tmp_path: Path) -> None:
    root = _clean(tmp_path)
    (root / "train.py").write_text("x = 2\n")
    (root / "new.py").write_text("y = 1\n")
    (root / "staged.py").write_text("z = 1\n")
    git(root, "add", "staged.py")
    [f] = inspect_repo(root).by_id("repo.dirty")
    d = f.evidence[0].detail
    assert (d["modified"], d["staged"], d["untracked"]) == (1, 1, 1)
    assert "1 modified" in f.message


def test_a_repository_without_commits_is_inspected_without_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"train.py": "x = 1\n"}, commit=False)
    report = inspect_repo(root)
    assert report.is_git
    assert {n.id for n in report.not_checked} == {"repo.large-files"}
    assert report.by_id("repo.dirty")


def test_a_subdirectory_of_a_repository_is_inspected_as_part_of_it(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"sub/train.py": "x = 1\n", "sub/README.md": README})
    report = inspect_repo(root / "sub")
    assert report.is_git
    assert not report.by_id("repo.dirty")


def _fake(prefix: str, body: str) -> str:
    """Assemble a fake credential at run time, so that no credential-shaped string is written in
    this file: dlpilot's own repository must pass its own secret scan."""
    return prefix + body


SECRET_VALUES = [
    _fake("sk-" + "proj-", "Ab3dEf9hIj2lMn8pQr5tUv7xYz1Ab4dEf6hIj0k"),
    _fake("AK" + "IA", "QX7D3K9PLM2ZR5TB"),
    "Tr0ub4dor&3xq",
    _fake("hf" + "_", "Qx7Hk2Lm9Np4Rs8Tv1Wx5Yz3Ab6Cd0EfGh"),
    _fake("xo" + "xb-", "2918273645-ZpQx8Kd7Lm3Nv"),
    _fake("gh" + "p_", "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"),
]
_KEY_BEGIN = "-----BEGIN RSA " + "PRIVATE KEY-----"
SECRETS = {
    "config.py": f'OPENAI_API_KEY = "{SECRET_VALUES[0]}"\n',
    "deploy.yaml": f"aws_access_key_id: {SECRET_VALUES[1]}\ndb_password: '{SECRET_VALUES[2]}'\n",
    "notebook.ipynb": '{"source": ["token = \\"' + SECRET_VALUES[3] + '\\""]}\n',
    "id_rsa": _KEY_BEGIN + "\nMIIEow\n-----END RSA " + "PRIVATE KEY-----\n",
    "slack.env": f"SLACK_BOT_TOKEN={SECRET_VALUES[4]}\n",
    "gh.sh": f"export GH={SECRET_VALUES[5]}\n",
}


def test_credentials_in_tracked_files_are_reported_and_masked(tmp_path: Path) -> None:
    root = _clean(tmp_path, **SECRETS)
    report = inspect_repo(root)
    found = report.by_id("repo.secrets")
    kinds = {str(f.evidence[0].detail["kind"]) for f in found}
    assert {
        "OpenAI API key",
        "AWS access key id",
        "Hugging Face token",
        "private key",
        "Slack token",
        "GitHub token",
        "hard-coded db_password",
    } <= kinds
    [openai] = [f for f in found if f.evidence[0].detail["kind"] == "OpenAI API key"]
    assert openai.evidence[0].location() == "config.py:1"
    assert openai.evidence[0].detail["masked"] == "sk-p…(47 chars)"
    everything = report.model_dump_json() + render_text(report)
    for value in SECRET_VALUES:
        assert value not in everything
        assert value[5:15] not in everything


def test_placeholders_environment_lookups_and_example_files_are_not_secrets(
    tmp_path: Path,
) -> None:
    root = _clean(
        tmp_path,
        **{
            "settings.py": (
                "import os\n"
                'api_key = os.environ["OPENAI_API_KEY"]\n'
                'password = os.getenv("DB_PASSWORD")\n'
                'token_env = "HF_TOKEN"\n'
                'API_KEY = "<your-key>"\n'
                'secret_key = "xxxxxxxxxxxx"\n'
                'password = "changeme"\n'
                'OPENAI = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n'
                'pad_token = "[PAD]"\n'
                "def f(password):\n    return password\n"
            ),
            ".env.example": "OPENAI_API_KEY=\nHF_TOKEN=\nDB_PASSWORD=your-password-here\n",
            "config.yaml": "api_key: ${OPENAI_API_KEY}\npassword: null\n",
            "docs.md": "Set `OPENAI_API_KEY=sk-...` in your shell.\n",
        },
    )
    assert inspect_repo(root).by_id("repo.secrets") == []


def test_a_secret_in_a_gitignored_local_file_is_not_reported(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{".gitignore": CLEAN[".gitignore"] + "local_secrets.py\n.env\n"})
    write(root, {"local_secrets.py": SECRETS["config.py"], ".env": SECRETS["slack.env"]})
    assert inspect_repo(root).by_id("repo.secrets") == []


def test_secrets_are_scanned_in_a_directory_that_is_not_a_git_repository(tmp_path: Path) -> None:
    write(tmp_path, {"config.py": SECRETS["config.py"]})
    report = inspect_repo(tmp_path)
    assert report.by_id("repo.secrets")
    assert "repo.secrets" not in {n.id for n in report.not_checked}


def test_unpinned_requirements_without_a_lock_file_are_reported(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{"requirements.txt": "# deps\ntorch>=2.1\nnumpy\nrich==13.7.1\n"})
    [f] = inspect_repo(root).by_id("repro.unpinned-deps")
    assert f.evidence[0].location() == "requirements.txt:2"
    assert f.evidence[0].detail["unpinned"] == ["torch", "numpy"]


def test_a_lock_file_makes_ranges_acceptable(tmp_path: Path) -> None:
    root = _clean(tmp_path, **{"requirements.txt": "torch>=2.1\n", "uv.lock": "version = 1\n"})
    assert not inspect_repo(root).by_id("repro.unpinned-deps")


def test_pyproject_ranges_without_a_lock_are_reported(tmp_path: Path) -> None:
    files = {k: v for k, v in CLEAN.items() if k != "requirements.txt"}
    files["pyproject.toml"] = '[project]\nname = "p"\ndependencies = ["torch>=2.1", "numpy"]\n'
    [f] = inspect_repo(make_repo(tmp_path / "r", files)).by_id("repro.unpinned-deps")
    assert f.evidence[0].file == "pyproject.toml"


def test_a_project_with_code_and_no_dependency_file_is_reported(tmp_path: Path) -> None:
    files = {k: v for k, v in CLEAN.items() if k != "requirements.txt"}
    [f] = inspect_repo(make_repo(tmp_path / "r", files)).by_id("repro.unpinned-deps")
    assert "no dependency file" in f.message


def test_requirement_lines_that_are_options_or_pinned_are_not_unpinned() -> None:
    text = (
        "-r base.txt\n-e .\n--index-url https://x\n\n# c\ntorch==2.3 ; python_version>'3'\n"
        "pkg @ git+https://github.com/o/r@0123456789abcdef0123456789abcdef01234567\n"
        "hashed>=1 --hash=sha256:abc\nloose~=1.0  # comment\n"
    )
    assert unpinned_requirements(text) == [(9, "loose")]
