"""Loopback-only addresses: every socket of the benchmark stays in 127.0.0.0/8."""

from __future__ import annotations

import ipaddress
import re

from .errors import BenchmarkError

LISTEN_HOST = "127.0.0.1"


def loopback(address: str) -> str:
    """``address`` if it is in 127.0.0.0/8; anything else is a bug in the benchmark."""
    if not ipaddress.ip_address(address).is_loopback:
        raise BenchmarkError(f"refusing non-loopback address {address}")
    return address


def source_address(worker: int, index: int) -> str:
    """The loopback source address of a worker's ``index``-th client."""
    return loopback(f"127.0.{1 + worker}.{1 + index % 254}")


def loopback_url(url: str) -> str:
    """``url`` if it is a websocket URL on a loopback address."""
    match = re.fullmatch(r"ws://(127\.\d+\.\d+\.\d+):\d+/", url)
    if match is None:
        raise BenchmarkError(f"not a loopback websocket URL: {url!r}")
    loopback(match.group(1))
    return url
