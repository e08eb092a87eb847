"""Every process a child started, however it hid: the child's session, its descendants, and the
processes that carry its run token.

A child may start processes that leave its process group or session (``start_new_session=True``,
a double fork). Three nets catch them, together:

* the **session**: the child leads its own session, and a process that only changed its group
  (``process_group=0``) is still in it;
* the **descendants**: the child is made a subreaper (``PR_SET_CHILD_SUBREAPER``, set by the
  launcher before ``exec``), so while it lives, every orphaned descendant is re-parented to it
  instead of to init; the runner records the descendants' ``(pid, start time)`` from ``/proc`` on
  every scan, so it still knows them after the child itself is gone;
* the **run token**: the child's environment holds ``DLPILOT_SANDBOX_RUN=<owner pid>-<random>``,
  which every descendant inherits unless it clears its environment; at the end, and on the next
  start of a dlpilot process when the owner died, ``/proc/*/environ`` is searched for it.

A recorded pid is only signalled while its start time is the recorded one, so a pid the system
reused for another process is never touched. Linux only (``/proc``); elsewhere only the process
group is signalled.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass

RUN_TOKEN_VAR = "DLPILOT_SANDBOX_RUN"  # noqa: S105  (a variable name, not a secret)
"""Environment variable holding the run token of the child (and of everything it starts)."""


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int  # start time in clock ticks since boot: with the pid, identifies the process


def new_token() -> str:
    """A fresh run token naming this process as its owner."""
    return f"{os.getpid()}-{secrets.token_hex(8)}"


def owner_of(token: str) -> int | None:
    """The owner pid recorded in a run token, or None when it holds none."""
    head, sep, _ = token.partition("-")
    return int(head) if sep and head.isdigit() else None


def proc_info(pid: int) -> ProcInfo | None:
    """One live (not zombie) process from ``/proc``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    # fields: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
    #         stime cutime cstime priority nice num_threads itrealvalue starttime ...
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return ProcInfo(pid, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def snapshot() -> dict[int, ProcInfo] | None:
    """Every live process, or None where there is no ``/proc``."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    procs = {}
    for entry in entries:
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None:
                procs[info.pid] = info
    return procs


def carries_token(pid: int, token: str) -> bool:
    """Whether process ``pid`` was started with ``token`` in its environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read()
    except OSError:  # gone, or another user's
        return False
    return f"{RUN_TOKEN_VAR}={token}".encode() in environ.split(b"\0")


def tokens_of(pid: int) -> list[str]:
    """The run tokens in process ``pid``'s environment (none, usually; one under a sandbox)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read()
    except OSError:
        return []
    prefix = f"{RUN_TOKEN_VAR}=".encode()
    return [
        item[len(prefix) :].decode("ascii", "replace")
        for item in environ.split(b"\0")
        if item.startswith(prefix)
    ]


def own_lineage() -> set[int]:
    """This process and its ancestors: never signalled, whatever token they carry."""
    lineage = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in lineage:
        lineage.add(pid)
        info = proc_info(pid)
        pid = info.ppid if info is not None else 0
    return lineage


class ProcessTree:
    """The processes of one child run (see the module docstring)."""

    def __init__(self, pid: int, token: str) -> None:
        self.pid = pid
        self.token = token
        self.known: dict[int, int] = {}  # pid -> start time, every descendant ever seen
        self._spare = own_lineage()

    def record(self) -> None:
        """Add the child's current descendants to :attr:`known` (call it regularly)."""
        procs = snapshot()
        if procs is None:
            return
        children: dict[int, list[int]] = {}
        for info in procs.values():
            children.setdefault(info.ppid, []).append(info.pid)
        stack = list(children.get(self.pid, ()))
        while stack:
            pid = stack.pop()
            if pid in self._spare:
                continue
            self.known.setdefault(pid, procs[pid].start)
            stack.extend(children.get(pid, ()))

    def members(self, *, search_tokens: bool = False) -> list[ProcInfo] | None:
        """The live processes of the run: its session, its known descendants and, with
        ``search_tokens``, every process carrying its token (added to :attr:`known`). None where
        there is no ``/proc``."""
        procs = snapshot()
        if procs is None:
            return None
        found: dict[int, ProcInfo] = {}
        for info in procs.values():
            if info.pid in self._spare:
                continue
            if info.sid == self.pid or self.known.get(info.pid) == info.start:
                found[info.pid] = info
            elif search_tokens and carries_token(info.pid, self.token):
                self.known[info.pid] = info.start
                found[info.pid] = info
        return list(found.values())

    def alive(self, *, search_tokens: bool = False) -> bool:
        members = self.members(search_tokens=search_tokens)
        if members is not None:
            return bool(members)
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def signal(self, sig: int, *, search_tokens: bool = False) -> None:
        """Send ``sig`` to the child's group and to every other member of the run."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for info in self.members(search_tokens=search_tokens) or ():
            if info.pgid != self.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(info.pid, sig)


__all__ = [
    "RUN_TOKEN_VAR",
    "ProcInfo",
    "ProcessTree",
    "carries_token",
    "new_token",
    "own_lineage",
    "owner_of",
    "proc_info",
    "snapshot",
    "tokens_of",
]
