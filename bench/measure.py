"""Run one command in a subprocess and measure its wall time, CPU time and the peak RSS of its tree.

CPU time (user + system, of the process and every descendant it waited for) is less sensitive than
wall time to other work on a shared machine.
RSS is sampled every `interval` seconds as the sum over the process and all its descendants
(a short spike between two samples can be missed; shared pages are counted once per process).
A tree that exceeds `max_rss_bytes` or `timeout_s` is killed and the run is marked as failed, so
a runaway measurement cannot take a shared machine down.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    returncode: int
    log_path: Path
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error


def tree_rss(proc: psutil.Process) -> int:
    """Sum of RSS over a process and its descendants (processes that vanish are skipped)."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def sample_tree_cpu(proc: psutil.Process, seen: dict[int, float]) -> None:
    """Record the CPU seconds (user + system) of every process in the tree, by pid. A JVM that
    Spark starts is not reaped by the measured process when it exits, so the rusage of waited-for
    children misses it: the sampled figures cover it."""
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            times = member.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen[member.pid] = times.user + times.system


def kill_tree(proc: psutil.Process) -> None:
    """Kill a process and its descendants (only the tree this module started)."""
    try:
        members = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue


def run_measured(
    cmd: list[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    interval: float = 0.2,
    timeout_s: float = 7200.0,
    max_rss_bytes: int | None = None,
) -> Measurement:
    """Run `cmd`, writing its stdout and stderr to `log_path`; return time and peak tree RSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    peak, error = 0, ""
    with log_path.open("w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        popen = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        proc = psutil.Process(popen.pid)
        sampled_cpu: dict[int, float] = {}
        while popen.poll() is None:
            peak = max(peak, tree_rss(proc))
            sample_tree_cpu(proc, sampled_cpu)
            if max_rss_bytes is not None and peak > max_rss_bytes:
                error = f"killed: process tree RSS {peak / 1e9:.1f} GB over the cap"
            elif time.monotonic() - start > timeout_s:
                error = f"killed: still running after {timeout_s:.0f} s"
            if error:
                kill_tree(proc)
                break
            time.sleep(interval)
        returncode = popen.wait()
        wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    # The larger of the two: rusage is exact for reaped children, sampling sees unreaped ones.
    cpu = max(cpu, sum(sampled_cpu.values()))
    return Measurement(wall, cpu, peak, returncode, log_path, error)
