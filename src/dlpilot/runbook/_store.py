"""Reading and writing the runbook's state: atomic, locked, never overwriting what it cannot read.

Layout under the project::

    .dlpilot/runbook/state.json          the state (RunbookState), schema-tagged
    .dlpilot/runbook/state.lock          fcntl lock: one writer at a time, across processes
    .dlpilot/runbook/rounds/<n>/         files of round n (round.toml, report.md, ...)

A write goes to a temporary file in the same directory, is fsynced, then renamed over
``state.json`` (and the directory fsynced), so a reader sees the old state or the new one, and a
process killed in the middle leaves at most a stray temporary file. Every change is a
read-modify-write under the lock (:meth:`Store.transaction`), so two processes cannot interleave.
The default state directory must stay inside the project: a ``.dlpilot`` (or anything under it)
that links elsewhere is refused, so a project cannot make dlpilot write outside itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from dlpilot.runbook._state import SCHEMA, VERSION, RunbookState
from dlpilot.runbook._steps import StateFileError, explain
from dlpilot.tools._atomic import atomic_write_text

STATE_DIR = Path(".dlpilot") / "runbook"
STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
TMP_PREFIX = ".state.json."

LOCK_TIMEOUT_S = 120.0
"""How long a change waits for another process's change: most take milliseconds, a proposal that
runs the static inspection of a large project seconds; two minutes means that process is stuck,
and saying so beats waiting forever."""

STALE_TMP_S = 60.0
"""Temporary files older than this are left by a killed writer and are removed."""


class Store:
    """The state files of one project."""

    def __init__(self, project: Path, state_dir: Path | None = None) -> None:
        self.project = project
        self.dir = state_dir if state_dir is not None else project / STATE_DIR
        self._confined = state_dir is None
        self.path = self.dir / STATE_FILE
        self.lock_path = self.dir / LOCK_FILE

    def round_dir(self, number: int) -> Path:
        return self.dir / "rounds" / str(number)

    def check_confined(self, *more: Path) -> None:
        """Refuse a default state location (or ``more`` paths under it) that a link sends out of
        the project; checked before every read and write, since the link can appear any time."""
        if not self._confined:
            return
        home = self.project.resolve()
        for path in (self.dir, self.path, self.lock_path, *more):
            real = path.resolve()  # as far as it exists: a dangling link is judged by its target
            if not real.is_relative_to(home):
                raise StateFileError(
                    f"runbook state path {str(path)!r} links to {str(real)!r}, outside the "
                    f"project {str(home)!r}; remove the link (dlpilot keeps its state inside "
                    "the project)"
                )

    # --- reading -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> RunbookState:
        """The state on disk, or a fresh one (not yet written) when there is none.

        A file that is not valid JSON, not a runbook state, from a newer dlpilot or not valid
        against the schema raises :class:`StateFileError` naming the file; it is left as it is.
        """
        self.check_confined()
        if not self.path.exists():
            rounds = self.dir / "rounds"
            if rounds.is_dir() and any(rounds.iterdir()):
                raise StateFileError(
                    f"runbook state {str(self.path)!r} is missing but {str(rounds)!r} holds "
                    "rounds: refusing to start over silently; restore the file, or remove "
                    f"{str(self.dir)!r} to start a new runbook"
                )
            return RunbookState(project=str(self.project))
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StateFileError(f"cannot read runbook state {str(self.path)!r}: {exc}") from exc
        return self.parse(text)

    def parse(self, text: str) -> RunbookState:
        where = f"runbook state {str(self.path)!r}"
        keep = "it was not changed; fix or move it away to start a new runbook"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(f"{where} is not valid JSON ({exc}); {keep}") from exc
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise StateFileError(
                f"{where} is not a dlpilot runbook state (schema = {found!r}, expected "
                f"{SCHEMA!r}); {keep}"
            )
        version = data.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise StateFileError(
                f"{where} has version {version!r}; this dlpilot reads version {VERSION} or "
                f"older; {keep}"
            )
        try:
            return RunbookState.model_validate(data)
        except ValidationError as exc:
            raise StateFileError(
                f"{where} does not match its schema: {explain(exc)}; {keep}"
            ) from exc

    # --- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state's lock (exclusive, across processes)."""
        self.check_confined()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StateFileError(
                            f"runbook state {str(self.path)!r} has been locked by another "
                            f"process for {LOCK_TIMEOUT_S:g} s; is a dlpilot command stuck?"
                        ) from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    @contextlib.contextmanager
    def transaction(self) -> Iterator[RunbookState]:
        """Lock, load, let the caller change the state, write it atomically, unlock. An
        exception inside leaves the file as it was."""
        with self.locked():
            state = self.load()
            yield state
            self.write(state)

    def write(self, state: RunbookState) -> None:
        """Write ``state`` atomically (call with the lock held)."""
        from dlpilot.runbook._state import now

        state.updated = now()
        text = json.dumps(state.dump(), indent=1, sort_keys=False) + "\n"
        write_atomic(self.path, text, prefix=TMP_PREFIX)
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        cutoff = time.time() - STALE_TMP_S
        for tmp in self.dir.glob(TMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()


def write_atomic(path: Path, text: str, *, prefix: str | None = None) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_text`), creating its
    directory first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text, prefix=prefix)


__all__ = ["LOCK_TIMEOUT_S", "STATE_DIR", "Store", "write_atomic"]
