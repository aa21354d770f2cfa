"""Process resources: the open-file limit, and CPU time and memory read from /proc."""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BenchmarkError

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> None:
    """Raise this process's open-file limit to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine-wide busy and steal time, and the CPU time of the benchmark's processes."""

    busy: float
    steal: float
    own: float


def cpu_snapshot(pids: Sequence[int]) -> CpuSnapshot:
    """Take a snapshot; ``pids`` are the benchmark's processes other than this one."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = fields
    times = os.times()
    own = times.user + times.system + sum(cpu_seconds(pid) for pid in pids)
    return CpuSnapshot((user + nice + system) / _CLK_TCK, steal / _CLK_TCK, own)


def other_load_pct(before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> float:
    """CPU used by processes that are not the benchmark's (plus steal), % of one core.

    Loopback networking done in softirq context is left out of both sides.
    """
    foreign = (after.busy - before.busy) - (after.own - before.own)
    steal = after.steal - before.steal
    return max(0.0, 100 * (foreign + steal) / seconds)


def rss_kib(pid: int) -> int:
    """The resident set size of a process (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchmarkError(f"no VmRSS for {pid}")
