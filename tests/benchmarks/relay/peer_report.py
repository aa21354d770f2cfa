"""The second table: every server of the run against the bare Node relay, and the storm."""

from __future__ import annotations

import math
import statistics
from typing import Any

from .contenders import LABELS, NODE_WS, is_ours
from .plan import Settings

#: Issue 15's targets for our server against the bare Node ws relay.
TARGET_CPU_VS_NODE = 0.9
TARGET_SATURATION_VS_NODE = 1.1
TARGET_KIB_NODE_RACE = 8.0


def _figure(results: dict[str, Any], phase: str, key: str, name: str, spec: str) -> str:
    value = results.get(phase, {}).get(key, {}).get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _paired(results: dict[str, Any], phase: str, field: str, key: str) -> float | None:
    """The median over reps of key/node-ws, each rep's two runs back to back."""
    ratios = results.get(phase, {}).get(field, {}).get(NODE_WS, {}).get(key)
    return statistics.median(ratios) if ratios else None


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _server_rows(settings: Settings, results: dict[str, Any], keys: list[str]) -> list[str]:
    rate = f"{settings.rate / 1000:g}k"
    lines = [
        f"| server | CPU us/msg at {rate} | vs node-ws (paired) | p99 ms | lost / reordered "
        "| saturation msg/s | vs node-ws (paired) | msg/s per server core | vs node-ws (paired) "
        "| KiB per idle conn. |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in keys:
        paced = results.get("paced", {}).get(key)
        lost = f"{paced['lost']} / {paced['reordered']}" if paced else "-"
        cells = [
            LABELS[key],
            _figure(results, "paced", key, "cpu_us_per_msg", ".1f"),
            _ratio(_paired(results, "paced", "paired_cpu_ratios_to", key)),
            _figure(results, "paced", key, "latency_p99_ms", ".2f"),
            lost,
            _figure(results, "saturation", key, "msgs_per_s", ",.0f"),
            _ratio(_paired(results, "saturation", "paired_rate_ratios_to", key)),
            _figure(results, "saturation", key, "msgs_per_core_s", ",.0f"),
            _ratio(_paired(results, "saturation", "paired_capacity_ratios_to", key)),
            _figure(results, "memory", key, "kib_per_connection", ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _target_lines(settings: Settings, results: dict[str, Any], keys: list[str]) -> list[str]:
    lines = []
    for key in (key for key in keys if is_ours(key)):
        cpu = _paired(results, "paced", "paired_cpu_ratios_to", key)
        rate = _paired(results, "saturation", "paired_capacity_ratios_to", key)
        offered = f"{settings.rate / 1000:g}k"
        kib = results.get("memory", {}).get(key, {}).get("kib_per_connection")
        checks = []
        if cpu is not None:
            checks.append(
                f"CPU/msg at {offered} {cpu:.2f}x node-ws (<= {TARGET_CPU_VS_NODE}x: "
                f"{_verdict(cpu <= TARGET_CPU_VS_NODE)})"
            )
        if rate is not None:
            checks.append(
                f"saturation msg/s per server core {rate:.2f}x node-ws "
                f"(>= {TARGET_SATURATION_VS_NODE}x: "
                f"{_verdict(rate >= TARGET_SATURATION_VS_NODE)})"
            )
        if kib is not None:
            checks.append(
                f"{kib:.1f} KiB per idle connection (<= {TARGET_KIB_NODE_RACE:.0f}: "
                f"{_verdict(kib <= TARGET_KIB_NODE_RACE)})"
            )
        if checks:
            lines.append(f"- {LABELS[key]}: " + "; ".join(checks) + ".")
    return lines


def _storm_lines(storm: dict[str, Any]) -> list[str]:
    lines = [
        f"Reconnect storm: {storm['clients']:,} hosts drop at once and resume together "
        f"({storm['server']}; medians of {len(storm['1024']['reps'])} fresh servers per backlog).",
        "",
        "| listen backlog | all resumed, s | half resumed, s | SYNs dropped |",
        "|---:|---:|---:|---:|",
    ]
    for backlog in ("1024", "100"):
        row = storm[backlog]
        lines.append(
            f"| {backlog} | {row['seconds_all']:.2f} | {row['seconds_p50']:.2f} "
            f"| {row['syn_dropped']:,.0f} |"
        )
    return lines


def peer_report(settings: Settings, results: dict[str, Any]) -> str:
    """The servers side by side (ratios to the bare Node relay) and the storm table."""
    keys: list[str] = results["config"]["servers"]
    out: list[str] = []
    if any(phase in results for phase in ("paced", "saturation", "memory")):
        out.append(
            f"Every server of the run, same flow ({settings.rate:,.0f} msg/s paced, "
            f"medians of {settings.reps} paced and {settings.saturation_reps} saturation reps):"
        )
        out += ["", *_server_rows(settings, results, keys)]
        if NODE_WS in keys:
            out += ["", *_target_lines(settings, results, keys)]
        else:
            out += ["", f"No Node rows: {results['config']['node']}."]
    if "storm" in results:
        out += ["", *_storm_lines(results["storm"])]
    return "\n".join(out).strip()
