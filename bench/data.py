"""Benchmark data: one generated REES46 month per size, plus one later day for the incremental step.

Files are generated once with the project's generator and cached under the cache dir, keyed by
row count and seed:
    <cache>/data/rows-<N>-seed-<S>/month/events-2019-10.csv.gz   N rows over 31 days
    <cache>/data/rows-<N>-seed-<S>/day/events-2019-11-01.csv.gz  N/30 rows on the next day
A set is written to a temporary folder and renamed when complete, so an interrupted run never
leaves a half-written set behind.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

MONTH_START = dt.date(2019, 10, 1)
MONTH_DAYS = 31
DAY_SHARE = 1 / 30  # the new day holds about one average day of the month
SIZE_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmM]?)\s*$")


@dataclass(frozen=True)
class Size:
    label: str
    rows: int

    @property
    def day_rows(self) -> int:
        return max(1_000, round(self.rows * DAY_SHARE))


@dataclass(frozen=True)
class DataSet:
    size: Size
    seed: int
    month_file: Path
    day_file: Path


def parse_size(text: str) -> Size:
    """'1M' -> 1,000,000 rows; '42.4M', '500k' and plain integers work too."""
    match = SIZE_PATTERN.match(text)
    if not match:
        raise ValueError(f"bad size {text!r}: use e.g. 1M, 10M, 42.4M, 500k or 250000")
    number, unit = float(match.group(1)), match.group(2).lower()
    rows = round(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])
    if rows < 1_000:
        raise ValueError(f"size {text!r} is below the 1,000-row minimum")
    return Size(text.strip(), rows)


def parse_sizes(text: str) -> list[Size]:
    sizes = [parse_size(part) for part in text.split(",") if part.strip()]
    if not sizes:
        raise ValueError("no sizes given")
    return sorted(dict.fromkeys(sizes), key=lambda s: s.rows)


def ensure_data(size: Size, seed: int, cache_dir: Path) -> DataSet:
    """The cached files for this size and seed, generated first when missing."""
    folder = cache_dir / "data" / f"rows-{size.rows}-seed-{seed}"
    month_file = folder / "month" / f"events-{MONTH_START:%Y-%m}.csv.gz"
    day = MONTH_START + dt.timedelta(days=MONTH_DAYS)
    day_file = folder / "day" / f"events-{day:%Y-%m-%d}.csv.gz"
    if not (folder / ".complete").exists():
        from warehouse.generate import generate

        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"[bench] generating {size.label} events (cached in {folder}) ...", flush=True)
        generate(
            rows=size.rows,
            start=MONTH_START,
            days=MONTH_DAYS,
            seed=seed,
            out=tmp / "month" / "events-{month}.csv.gz",
            progress=False,
        )
        generate(
            rows=size.day_rows,
            start=day,
            days=1,
            seed=seed + 1,
            out=tmp / "day" / "events-{date}.csv.gz",
            progress=False,
        )
        (tmp / ".complete").touch()
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return DataSet(size, seed, month_file, day_file)


def link_or_copy(source: Path, target: Path) -> None:
    """Place `source` at `target` (hard link when possible: no copy of a multi-GB file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)
