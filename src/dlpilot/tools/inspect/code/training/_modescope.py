"""Whether train / eval mode can matter for a file's code: judged on the files it can reach.

A project whose own modules hold no layer that computes differently in train and eval mode (and no
library model, which may) trains a model for which ``model.eval()`` changes nothing, so the mode
findings of its code would be moot. Kept apart from the mode rule: it reads only the text of the
files and their imports, not the training index.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# Text that means some module may behave differently in train and eval mode: a mode-dependent
# layer, code reading ``self.training``, or a model built by a library (zoo models have batch-norm
# or dropout). A project that defines its own modules and holds none of these anywhere trains a
# model whose train and eval modes compute the same thing, so mode findings would be moot.
_MODE_SENSITIVE = (
    "ropout",
    "BatchNorm",
    "batch_norm",
    "InstanceNorm",
    "instance_norm",
    ".training",
    "DropPath",
    "drop_path",
    "StochasticDepth",
    "RReLU",
    "rrelu",
    "torchvision.models",
    "import models",
    "timm",
    "from_pretrained",
    "hub.load",
    "transformers",
    "segmentation_models",
    "monai",
    "lightning",
)


@dataclass(frozen=True)
class ModeFacts:
    sensitive: bool
    defines_module: bool
    imports: list[tuple[str, str]]


class ModeScope:
    """Whether train / eval mode can matter for the code of one file: judged on the files it can
    reach (its own directory and everything below it, plus the repository modules it imports,
    transitively), so one example of a repository of many with dropout does not make every other
    example's missing ``model.eval()`` an error."""

    def __init__(self, files: dict[str, ModeFacts]) -> None:
        self.files = files
        self.memo: dict[str, bool] = {}

    def __call__(self, rel: str | None) -> bool:
        if rel is None or rel not in self.files:
            return True
        if rel not in self.memo:
            reach = self._reach(rel)
            facts = [self.files[r] for r in reach]
            self.memo[rel] = any(f.sensitive for f in facts) or not any(
                f.defines_module for f in facts
            )
        return self.memo[rel]

    def _reach(self, rel: str) -> set[str]:
        todo, seen = [rel], set()
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            folder = cur.rsplit("/", 1)[0] + "/" if "/" in cur else ""
            if cur == rel:
                todo.extend(r for r in self.files if r.startswith(folder))
            for spec in self.files[cur].imports:
                todo.extend(self._module_files(spec, folder))
        return seen

    def _module_files(self, spec: tuple[str, str], folder: str) -> list[str]:
        """The repository files an import may load, as Python finds them: next to the importing
        file first (a script's directory is first on ``sys.path``), then from the repository
        root, then anywhere that ends in the module's path (a package under ``src/``)."""
        name = (spec[0] or spec[1]).lstrip(".")
        if not name:  # from . import x
            depth = folder.count("/")
            return [r for r in self.files if r.startswith(folder) and r.count("/") == depth]
        tail = name.replace(".", "/")
        for base in (folder, ""):
            hits = [b for b in (f"{base}{tail}.py", f"{base}{tail}/__init__.py") if b in self.files]
            if hits:
                return hits
        ends = (f"/{tail}.py", f"/{tail}/__init__.py")
        return [r for r in self.files if r.endswith(ends)]


def mode_facts(text: str, tree: ast.Module | None = None) -> ModeFacts:
    """What one file's text says for ``ModeScope``: read off its statements (not its
    expressions), so a file costs little more than its number of statements."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return ModeFacts(
                sensitive=any(tok in text for tok in _MODE_SENSITIVE),
                defines_module=False,
                imports=[],
            )
    imports: list[tuple[str, str]] = []
    defines = False
    look_for_module = "Module" in text
    todo: list[ast.stmt] = list(reversed(tree.body))
    while todo:
        st = todo.pop()
        if isinstance(st, ast.Import):
            imports.extend(("", a.name) for a in st.names)
        elif isinstance(st, ast.ImportFrom):
            imports.append(("." * st.level + (st.module or ""), ""))
        elif isinstance(st, ast.ClassDef) and look_for_module and not defines:
            defines = any(_MODULE_WORD.search(ast.unparse(b)) for b in st.bases)
        for name in _BODIES:
            inner = getattr(st, name, None)
            if inner:
                todo.extend(reversed(inner))
        for handler in getattr(st, "handlers", ()):
            todo.extend(reversed(handler.body))
        for case in getattr(st, "cases", ()):
            todo.extend(reversed(case.body))
    return ModeFacts(
        sensitive=any(tok in text for tok in _MODE_SENSITIVE),
        defines_module=defines,
        imports=imports,
    )


_BODIES = ("body", "orelse", "finalbody")
_MODULE_WORD = re.compile(r"\bModule\b")


__all__ = ["ModeFacts", "ModeScope", "mode_facts"]
