"""Network guard for sandboxed Python processes; copied into the child as ``sitecustomize.py``.

When ``ChildSpec.no_network`` is set, the runner writes this file's source as ``sitecustomize.py``
into a private temporary directory and puts that directory first on ``PYTHONPATH``. Every Python
process of the child's tree that reads ``PYTHONPATH`` and runs ``site`` imports it at start-up,
before the user's code, and :func:`install` patches the ``socket`` module.

What it refuses, by raising :class:`NetworkBlocked` (a ``PermissionError``) *before* any packet
is sent:

- ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` / ``sendmsg`` to an IPv4 or IPv6 address
  that is not loopback or unspecified (``127.0.0.0/8``, ``::1``, ``0.0.0.0``, ``::``), or to a host
  name other than ``localhost``; this covers ``socket.create_connection``, ``ssl``, ``http.client``,
  ``urllib``, ``requests`` / ``urllib3``, ``httpx`` and ``asyncio`` streams, which all end there;
- name resolution (``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``) of any name but
  ``localhost`` and this machine's own host name, so no DNS query leaves either;
- socket families other than Unix, IPv4, IPv6 and netlink (raw packet sockets, for one).

What it does not stop: native code that opens sockets itself (libcurl, gRPC's C core, NCCL, a
C extension), programs that are not Python (``curl``, ``wget``, ``git``), Python started with
``-I``, ``-E`` or ``-S`` or with ``PYTHONPATH`` removed, and code that sets out to undo the patch.
It is a guard against accidental downloads and uploads, not a security boundary.

This module must import only the standard library and run on any Python 3 the user has; importing
it under its own name does nothing until :func:`install` is called.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from typing import Any

MARKER = "dlpilot sandbox blocked network access"
"""Start of every :class:`NetworkBlocked` message; the parent and tests look for it."""

_ALLOWED_FAMILIES = {socket.AF_UNIX, socket.AF_INET, socket.AF_INET6}
if hasattr(socket, "AF_NETLINK"):
    _ALLOWED_FAMILIES.add(socket.AF_NETLINK)

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class NetworkBlocked(PermissionError):
    """A network operation the dlpilot sandbox refuses (``no_network``)."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.EACCES, f"{MARKER}: {what} (the run was started with no_network)")


def _is_local_name(host: str) -> bool:
    name = host.strip().rstrip(".").lower()
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _is_local_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host == "":
        return True  # binds and connects to "" mean INADDR_ANY, this machine
    ip = _ip(host)
    if ip is None:
        return _is_local_name(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _check_address(sock: socket.socket, address: Any, what: str) -> None:
    family = sock.family
    if family not in _ALLOWED_FAMILIES:
        raise NetworkBlocked(f"{what} on a socket of family {family!r}")
    if family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) and address else address
        if not _is_local_host(host):
            raise NetworkBlocked(f"{what} to {address!r}")


def _check_name(host: object, what: str) -> None:
    if host is None:
        return
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    if text == "" or _ip(text) is not None or _is_local_name(text):
        return
    if text.lower() == _real_gethostname().lower():
        return
    raise NetworkBlocked(f"{what}({text!r}) would query DNS")


_real_gethostname = socket.gethostname


def install() -> None:
    """Patch ``socket`` in this process so non-local traffic is refused (idempotent)."""
    if getattr(socket, "_dlpilot_no_network", False):
        return
    cls = socket.socket
    real_connect = cls.connect
    real_connect_ex = cls.connect_ex
    real_sendto = cls.sendto
    real_sendmsg = cls.sendmsg
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self, address, "connect")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            _check_address(self, address, "connect_ex")
        except NetworkBlocked:
            return errno.EACCES
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if args:
            _check_address(self, args[-1], "sendto")
        return real_sendto(self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        if len(args) >= 3 and args[2] is not None:
            _check_address(self, args[2], "sendmsg")
        return real_sendmsg(self, buffers, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check_name(host, "getaddrinfo")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        _check_name(host, "gethostbyname")
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        _check_name(host, "gethostbyname_ex")
        return real_gethostbyname_ex(host)

    cls.connect = connect  # type: ignore[method-assign,assignment]
    cls.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    cls.sendto = sendto  # type: ignore[assignment]
    cls.sendmsg = sendmsg  # type: ignore[assignment]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket._dlpilot_no_network = True  # type: ignore[attr-defined]


def _chain_next_sitecustomize() -> None:
    """Run the ``sitecustomize`` this file shadows (a distribution's or the user's), if any."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    install()
    _chain_next_sitecustomize()
