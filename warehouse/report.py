"""Write the findings report: the brief's answers as charts and numbers read from the marts.

Reads the warehouse read-only (the published copy when there is one) and writes
`<out>/findings.html`, one self-contained page (charts embedded as PNG data URIs, opens offline),
plus each chart as a PNG file beside it. Every number in the page is read from a query at build
time; each section names its marts and shows its SQL. A section (or a figure) that cannot be
computed, because its mart is missing or empty or the figure is undefined on the data, says "not
enough data" with the reason.

Example:
    python -m warehouse report --warehouse warehouse.duckdb --out reports
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from warehouse.report_claims import RULES, build_claims
from warehouse.report_model import Section, Warehouse
from warehouse.report_sections import SECTION_BUILDERS, Builder, build_overview

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "findings.html.j2"
REPORT_NAME = "findings.html"


@dataclass(frozen=True)
class ReportResult:
    html: Path
    charts: list[Path]
    sections: list[Section]


def default_warehouse() -> str:
    """The published copy when it exists (never waits on a running build), else the working file."""
    published = os.environ.get("PUBLISHED_WAREHOUSE_PATH", "warehouse.published.duckdb")
    if Path(published).exists():
        return published
    return os.environ.get("WAREHOUSE_PATH", "warehouse.duckdb")


def _safe_build(builder: Builder, wh: Warehouse) -> Section:
    """Run one section builder; a failing query becomes a "not enough data" note, no traceback."""
    try:
        return builder(wh)
    except duckdb.Error as exc:
        name = builder.__name__.removeprefix("build_")
        section = Section(name, name.replace("_", " ").capitalize(), "", [])
        section.missing(f"a query failed: {str(exc).splitlines()[0]}")
        return section


def build_sections(con: duckdb.DuckDBPyConnection) -> tuple[Section, Section, list[Section]]:
    wh = Warehouse(con)
    overview = _safe_build(build_overview, wh)
    claims = _safe_build(build_claims, wh)
    return overview, claims, [_safe_build(b, wh) for b in SECTION_BUILDERS]


def render(
    overview: Section, claims: Section, sections: list[Section], warehouse: Path
) -> tuple[str, dict[str, bytes]]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    pngs: dict[str, bytes] = {}
    for section in [overview, claims, *sections]:
        for chart in section.charts:
            if chart.filename in pngs:
                raise ValueError(f"two charts named {chart.filename}")
            pngs[chart.filename] = chart.png
    keys = [k for s in [overview, claims, *sections] for k in s.metrics]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"duplicate metric keys: {sorted(duplicates)}")
    html = env.get_template(TEMPLATE).render(
        overview=overview,
        claims=claims,
        sections=sections,
        rules=RULES,
        warehouse=warehouse.name,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return html, pngs


def build_report(warehouse: Path, out_dir: Path) -> ReportResult:
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `make build` first")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        overview, claims, sections = build_sections(con)
    finally:
        con.close()
    html, pngs = render(overview, claims, sections, warehouse)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.png"):
        if stale.name not in pngs:
            stale.unlink()
    chart_paths = []
    for name, data in pngs.items():
        path = out_dir / name
        path.write_bytes(data)
        chart_paths.append(path)
    html_path = out_dir / REPORT_NAME
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(html_path)
    return ReportResult(html_path, chart_paths, [overview, claims, *sections])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        default=None,
        help="DuckDB file to read (default: $PUBLISHED_WAREHOUSE_PATH if it exists, else "
        "$WAREHOUSE_PATH, else warehouse.duckdb)",
    )
    parser.add_argument("--out", default="reports", help="output folder (default: reports)")


def main(args: argparse.Namespace) -> int:
    warehouse = Path(args.warehouse or default_warehouse())
    try:
        result = build_report(warehouse, Path(args.out))
    except (FileNotFoundError, duckdb.IOException) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    empty = [s.title for s in result.sections if s.no_data]
    print(f"Wrote {result.html} and {len(result.charts)} charts from {warehouse}")
    for verdict in result.sections[1].verdicts:
        print(f"  claim ({verdict.key}): {verdict.verdict}")
    if empty:
        print("  sections with missing data: " + "; ".join(empty))
    return 0
