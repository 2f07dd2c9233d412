"""A tiny authoritative DNS server for the namespace's host names (the trunks' contacts).

Asterisk's PJSIP resolves contact hosts through its own DNS client (the system resolver:
res_nsearch), which never reads /etc/hosts; so pjsip.conf's `carrier.example.invalid` and
`xy.hotline.example.invalid` resolve here, through /etc/netns/<ns>/resolv.conf, and the
configuration stays as committed. A records only; everything else is answered empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from typing import cast

A, IN = 1, 1


def _question(packet: bytes) -> tuple[str, int, int]:
    labels, at = [], 12
    while packet[at]:
        size = packet[at]
        labels.append(packet[at + 1 : at + 1 + size].decode("ascii").lower())
        at += 1 + size
    qtype, _ = struct.unpack("!HH", packet[at + 1 : at + 5])
    return ".".join(labels), qtype, at + 5


def answer(packet: bytes, hosts: dict[str, str]) -> bytes:
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        return struct.pack("!HHHHHH", ident, 0x8001 | (flags & 0x0100), 0, 0, 0, 0)  # FORMERR
    name, qtype, end = _question(packet)
    question = packet[12:end]
    known = name.rstrip(".") in hosts
    records = b""
    count = 0
    if known and qtype == A:
        address = ipaddress.IPv4Address(hosts[name.rstrip(".")]).packed
        records = b"\xc0\x0c" + struct.pack("!HHIH", A, IN, 5, 4) + address
        count = 1
    rcode = 0 if known else 3  # NXDOMAIN
    head = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1, count, 0, 0)
    return head + question + records


class _Server(asyncio.DatagramProtocol):
    def __init__(self, hosts: dict[str, str]) -> None:
        self.hosts = hosts
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        # Not a query we understand: no answer; the client gives up on its own.
        with contextlib.suppress(IndexError, struct.error, UnicodeDecodeError):
            self.transport.sendto(answer(data, self.hosts), addr)


async def serve(hosts: dict[str, str]) -> asyncio.DatagramTransport:
    """Listen on 127.0.0.1:53 of the calling thread's network namespace."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Server(hosts), local_addr=("127.0.0.1", 53)
    )
    return transport
