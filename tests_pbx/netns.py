"""Network namespaces for one run: each Asterisk gets its own loopback and addresses.

Ports 5060 (SIP) and 5038 (AMI) then never collide with another Asterisk on the machine, and
pjsip.conf's carrier and partner addresses (192.0.2.x) exist inside the namespace exactly as
written, so asterisk_conf/ loads unchanged. `ip netns exec` also bind-mounts
/etc/netns/<name>/hosts over /etc/hosts, which is how the trunks' host names resolve.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name
        self.etc = Path("/etc/netns") / name
        self.created = False

    def create(self, addresses: tuple[str, ...] = (), hosts: dict[str, str] | None = None) -> None:
        _ip("netns", "add", self.name)
        self.created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        for address in addresses:
            _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "lo")
        if hosts:
            # Asterisk asks DNS (tests_pbx/dns.py answers on the namespace's 127.0.0.1); the
            # hosts file serves every other program run with `ip netns exec`.
            self.etc.mkdir(parents=True, exist_ok=True)
            lines = ["127.0.0.1 localhost"] + [f"{ip} {name}" for name, ip in hosts.items()]
            (self.etc / "hosts").write_text("\n".join(lines) + "\n")
            (self.etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1\n")

    def link(self, other: Netns, mine: str, theirs: str) -> None:
        """A veth pair between two namespaces, a /32 address on each end routed to the other."""
        # Named by both ends: a city's namespace holds one end per link (carrier, partner city).
        tag = f"v{os.getpid() % 100000}"
        a, b = (
            f"{tag}{self.name[-2:]}{other.name[-2:]}",
            f"{tag}{other.name[-2:]}{self.name[-2:]}",
        )
        _ip("link", "add", a, "netns", self.name, "type", "veth", "peer", b, "netns", other.name)
        for ns, dev, local, peer in ((self, a, mine, theirs), (other, b, theirs, mine)):
            _ip("-n", ns.name, "addr", "add", local, "peer", f"{peer}/32", "dev", dev)
            _ip("-n", ns.name, "link", "set", dev, "up")

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the calling thread inside the namespace (sockets it opens live there).

        Sockets keep the namespace they were opened in, so the in-process controller's AMI
        connection (and every reconnect, made on the same thread) reaches 127.0.0.1:5038 of
        this namespace; Redis and SQLite are files and unix sockets, reachable from anywhere.
        """
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def delete(self) -> None:
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
            self.created = False
        shutil.rmtree(self.etc, ignore_errors=True)
