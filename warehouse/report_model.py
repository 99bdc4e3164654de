"""Building blocks of the findings report: numbers, sentences, sections and warehouse access.

Every number the report prints is a `Metric`: a key, the raw value read from a query and a display
format. It renders as `<span data-metric="key" data-value="raw">text</span>`, so a test (or a
curious analyst) can parse each figure back and compare it with the marts. Sentences are templates
(`say("... {users} users ...", users=metric)`): nothing numeric is typed into the text by hand.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
from markupsafe import Markup, escape

Value = int | float | str | dt.date | dt.datetime | None

VERDICT_HOLDS = "holds"
VERDICT_FAILS = "does not hold"
VERDICT_UNKNOWN = "not enough data"


def _is_missing(value: Value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _duration(seconds: float) -> str:
    """Seconds up to an hour (so that figures side by side share a unit), then hours, days."""
    if abs(seconds) < 3600:
        return f"{seconds:,.0f} s"
    if abs(seconds) < 172_800:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86_400:,.1f} days"


def fmt_odds(v: float) -> str:
    """An odds ratio: three significant digits; scientific below 0.001 (a shrunk zero cell)."""
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 0.001:
        return f"{v:#.3g}".rstrip(".")  # keeps trailing zeros: 1.00, 0.800 (not "100.")
    return f"{v:.1e}"


def _p_value(v: float) -> str:
    """A p-value with its relation: "= 0.046", or "< 0.001" (the marts' normal CDF is exact to
    1.5e-7 only), so that a sentence reads "p {p}"."""
    return "< 0.001" if v < 0.001 else f"= {v:.3f}"


FORMATS = {
    "int": lambda v: f"{int(v):,}",
    "pct": lambda v: f"{float(v) * 100:,.1f}%",
    "pct2": lambda v: f"{float(v) * 100:,.2f}%",
    "money": lambda v: f"{float(v):,.0f}",
    "money2": lambda v: f"{float(v):,.2f}",
    "seconds": lambda v: _duration(float(v)),
    "hours": lambda v: f"{float(v):,.1f} h",
    "corr": lambda v: f"{float(v):.3f}",
    "num": lambda v: f"{float(v):,.2f}",
    "num1": lambda v: f"{float(v):,.1f}",
    "points": lambda v: f"{float(v):+.1f}",
    "num3": lambda v: f"{float(v):.3f}",
    "num4": lambda v: f"{float(v):.4f}",
    "odds": lambda v: fmt_odds(float(v)),
    "pvalue": lambda v: _p_value(float(v)),
    "date": lambda v: v.isoformat()[:10] if hasattr(v, "isoformat") else str(v)[:10],
    "datetime": lambda v: v.isoformat(sep=" ") if hasattr(v, "isoformat") else str(v),
    "text": str,
}


def raw_value(value: Value) -> str:
    """The exact value behind a metric, as written into data-value."""
    if _is_missing(value):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Metric:
    """One number (or name) read from the warehouse, with its display format."""

    key: str
    value: Value
    fmt: str = "num"

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r} for metric {self.key}")

    @property
    def text(self) -> str:
        if _is_missing(self.value):
            return "n/a"
        return FORMATS[self.fmt](self.value)

    def __html__(self) -> str:
        return Markup('<span class="metric" data-metric="{}" data-value="{}">{}</span>').format(
            self.key, raw_value(self.value), self.text
        )

    def __str__(self) -> str:
        return self.text


def say(template: str, **parts: Any) -> Markup:
    """Fill a sentence template; metrics keep their markup, everything else is escaped."""
    return Markup(escape(template)).format(**parts)


@dataclass
class Chart:
    name: str  # file stem, e.g. "funnel_levels"
    title: str
    png: bytes
    alt: str

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]
    collapsed: bool = False  # long tables go into a <details> block


@dataclass
class Verdict:
    key: str  # "a", "b", ...
    claim: str
    rule: Markup
    verdict: str
    evidence: list[Markup] = field(default_factory=list)

    @property
    def css(self) -> str:
        return {VERDICT_HOLDS: "holds", VERDICT_FAILS: "fails"}.get(self.verdict, "unknown")


@dataclass
class Query:
    label: str
    sql: str


@dataclass
class Section:
    id: str
    title: str
    question: str
    sources: list[str]
    paragraphs: list[Markup] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    metrics: dict[str, Metric] = field(default_factory=dict)

    def metric(self, key: str, value: Value, fmt: str = "num") -> Metric:
        full_key = f"{self.id}.{key}"
        if full_key in self.metrics:
            raise ValueError(f"duplicate metric key {full_key}")
        m = Metric(full_key, value, fmt)
        self.metrics[full_key] = m
        return m

    def say(self, template: str, **parts: Any) -> None:
        self.paragraphs.append(say(template, **parts))

    def missing(self, reason: str) -> None:
        self.no_data.append(reason)

    @property
    def has_content(self) -> bool:
        return bool(self.paragraphs or self.charts or self.tables or self.verdicts)


class Warehouse:
    """Read-only access to the DuckDB warehouse; every query run is recorded on its section."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._relations = {
            f"{schema}.{name}"
            for schema, name in con.sql(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        self._columns: dict[str, set[str]] = {}

    def exists(self, relation: str) -> bool:
        return relation in self._relations

    def columns(self, relation: str) -> set[str]:
        if relation not in self._columns:
            schema, name = relation.split(".", 1)
            self._columns[relation] = {
                r[0]
                for r in self.con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchall()
            }
        return self._columns[relation]

    def problem(self, relation: str, required: Iterable[str] = ()) -> str | None:
        """Why a relation cannot be used (missing, lacking columns, empty), or None."""
        if not self.exists(relation):
            return f"{relation} is missing from the warehouse"
        lacking = sorted(set(required) - self.columns(relation))
        if lacking:
            return f"{relation} lacks column(s) {', '.join(lacking)}"
        if not self.con.sql(f"select 1 from {relation} limit 1").fetchall():
            return f"{relation} has no rows"
        return None

    def df(self, section: Section, label: str, sql: str) -> pd.DataFrame:
        section.queries.append(Query(label, sql.strip()))
        return self.con.sql(sql).df()

    def rows(self, section: Section, label: str, sql: str) -> list[dict[str, Any]]:
        section.queries.append(Query(label, sql.strip()))
        rel = self.con.sql(sql)
        names = rel.columns
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def require(wh: Warehouse, section: Section, needs: dict[str, Iterable[str]]) -> bool:
    """Record a "not enough data" reason for each unusable relation; True when all are usable."""
    ok = True
    for relation, columns in needs.items():
        reason = wh.problem(relation, columns)
        if reason:
            section.missing(reason)
            ok = False
    return ok


def fmt_pct(v: object) -> str:
    """A table cell: a share as a percentage, "n/a" when undefined."""
    return "n/a" if pd.isna(v) else f"{float(v):.1%}"


def fmt_int(v: object) -> str:
    return "n/a" if pd.isna(v) else f"{int(v):,}"


def fmt_num(v: object, digits: int = 2) -> str:
    return "n/a" if pd.isna(v) else f"{float(v):,.{digits}f}"


def clean(value: Any) -> Value:
    """numpy/pandas scalars -> plain Python values (NaN/NaT -> None)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
