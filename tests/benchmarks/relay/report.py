"""The markdown table of results against the targets, with its intro line and notes."""

from __future__ import annotations

import functools
import math
import statistics
from typing import Any

from .contenders import LABELS, shipped
from .plan import Plan, Settings
from .quiet_gate import OTHER_LOAD_WARNING_PCT

TARGET_CPU_RATIO = 1.0
TARGET_KIB_PER_CONNECTION = 20.0
TARGET_IDLE_CONNECTIONS = 10_000

Row = tuple[str, str, str, str, str, str]


def _ratio(ours: float, bare: float) -> str:
    if not bare or math.isnan(ours) or math.isnan(bare):
        return "-"
    return f"{ours / bare:.2f}x"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _row(
    ours: dict[str, Any],
    bare: dict[str, Any],
    label: str,
    name: str,
    spec: str = "",
    *,
    ratio: bool = False,
    target: str = "",
    result: str = "",
) -> Row:
    """A row comparing one figure of both servers, formatted with ``spec``."""
    o, b = ours[name], bare[name]
    return (
        label,
        format(o, spec),
        format(b, spec),
        _ratio(o, b) if ratio else "",
        target,
        result,
    )


def _paced_rows(settings: Settings, paced: dict[str, Any], ours: str) -> list[Row]:
    o, b = paced[ours], paced["bare"]
    row = functools.partial(_row, o, b)
    cpu_ratio = o["cpu_us_per_msg"] / b["cpu_us_per_msg"]
    return [
        row(
            f"server CPU per relayed message, us (paced, median of {settings.reps})",
            "cpu_us_per_msg",
            ".1f",
            ratio=True,
            target=f"<= {TARGET_CPU_RATIO:.1f}x bare",
            result=_verdict(cpu_ratio <= TARGET_CPU_RATIO),
        ),
        (
            "CPU per message ours/bare, median of the paired reps",
            "",
            "",
            f"{statistics.median(paced['paired_cpu_ratios_to']['bare'][ours]):.2f}x",
            "",
            "",
        ),
        row(
            "paced: msg/s offered (achieved)",
            "offered_per_s",
            ",.0f",
            target=f"{settings.rate:,.0f}",
        ),
        row("paced: messages relayed (all runs)", "received", ","),
        row(
            "paced: messages lost",
            "lost",
            target="0",
            result=_verdict(o["lost"] == 0 and o["errors"] == 0),
        ),
        row(
            "paced: messages reordered",
            "reordered",
            target="0",
            result=_verdict(o["reordered"] == 0),
        ),
        row(
            "paced: the load generator's own CPU per message, us",
            "generator_cpu_us_per_msg",
            ".1f",
        ),
        row("paced: relay latency p50, ms", "latency_p50_ms", ".2f", ratio=True),
        row("paced: relay latency p99, ms", "latency_p99_ms", ".2f", ratio=True),
    ]


def _saturation_rows(settings: Settings, sat: dict[str, Any], ours: str) -> list[Row]:
    o, b = sat[ours], sat["bare"]
    row = functools.partial(_row, o, b)
    return [
        row(
            f"max msg/s (saturation, median of {settings.saturation_reps})",
            "msgs_per_s",
            ",.0f",
            ratio=True,
        ),
        row("saturation: server CPU, % of one core", "server_cpu_pct", ".0f"),
        row("saturation: server CPU per message, us", "cpu_us_per_msg", ".1f", ratio=True),
        (
            "saturation: lost / reordered",
            f"{o['lost']} / {o['reordered']}",
            f"{b['lost']} / {b['reordered']}",
            "",
            "",
            "",
        ),
    ]


def _memory_rows(settings: Settings, mem: dict[str, Any], ours: str) -> list[Row]:
    o, b = mem[ours], mem["bare"]
    row = functools.partial(_row, o, b)
    full = settings.idle_connections >= TARGET_IDLE_CONNECTIONS
    return [
        row(
            f"memory per idle connection, KiB ({settings.idle_connections:,} connections)",
            "kib_per_connection",
            ".1f",
            ratio=True,
            target=f"<= {TARGET_KIB_PER_CONNECTION:.0f} KiB",
            result=_verdict(o["kib_per_connection"] <= TARGET_KIB_PER_CONNECTION),
        ),
        row(
            "idle connections held by one process",
            "held",
            ",",
            target=f"{TARGET_IDLE_CONNECTIONS:,}",
            result=_verdict(o["held"] >= TARGET_IDLE_CONNECTIONS) if full else "n/a (fewer asked)",
        ),
    ]


def _notes(settings: Settings, results: dict[str, Any]) -> list[str]:
    notes = []
    loads = [
        figures["other_load_pct_max"]
        for phase in ("paced", "saturation")
        if phase in results
        for figures in results[phase].values()
        if isinstance(figures, dict) and "other_load_pct_max" in figures
    ]
    if loads and max(loads) > OTHER_LOAD_WARNING_PCT:
        notes.append(
            f"WARNING: other processes (or the hypervisor) used up to {max(loads):.0f}% of a "
            "core during the measurements; CPU, latency and throughput figures are not "
            "reliable. Run again on a quiet machine."
        )
    if "paced" in results:
        keys = results["config"]["servers"]
        repeated = sum(results["paced"][key]["all_runs"] - settings.reps - 1 for key in keys)
        if repeated:
            notes.append(f"{repeated} paced runs disturbed by other load were measured again.")
        for key in keys:
            codes = results["paced"][key]["error_codes"]
            if codes:
                notes.append(f"{key}: error events during the paced run: {codes}")
    return notes


def report(settings: Settings, plan: Plan, results: dict[str, Any]) -> str:
    """The intro line, the table and the notes, as printed at the end of a run."""
    rows: list[Row] = []
    servers = results["config"]["servers"]
    ours = shipped(servers)
    if ours in servers and "bare" in servers:  # both in the run (see --servers)
        if "paced" in results:
            rows += _paced_rows(settings, results["paced"], ours)
        if "saturation" in results:
            rows += _saturation_rows(settings, results["saturation"], ours)
        if "memory" in results:
            rows += _memory_rows(settings, results["memory"], ours)
    header = ("metric", LABELS[ours], "bare relay", "ours/bare", "target", "result")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:", "---", "---"]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if not rows:
        lines = []
    config = results["config"]
    intro = (
        f"{plan.peers} clients in {plan.lobbies} lobbies ({plan.pairs} host/guest pairs, "
        f"{2 * plan.pairs} streams), {config['rate_per_connection']:.1f} msg/s per connection "
        f"when paced; {settings.workers} load-generator processes "
        f"({config.get('generator', 'websockets')} client); clients "
        f"{'offer permessage-deflate' if settings.compression else 'without compression'}; "
        f"{config['cpus']} CPUs, Python {config['python']}, websockets {config['websockets']}; "
        f"{config['seconds']:.0f} s."
    )
    notes = _notes(settings, results)
    return "\n".join([intro, "", *lines, *(["", *notes] if notes else [])])
