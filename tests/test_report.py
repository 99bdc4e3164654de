"""The findings report (`python -m warehouse report`): it builds from the shared small warehouse,
every number it prints equals the marts, every chart is a real PNG, the claims' verdicts follow
their stated rules, and a section whose mart is missing or empty says "not enough data"."""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BuiltWarehouse, query
from warehouse.__main__ import main as cli_main
from warehouse.report import build_report, default_warehouse
from warehouse.report_claims import RULES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = [
    "overview",
    "claims",
    "funnel",
    "funnel_dims",
    "speed",
    "engagement",
    "pareto",
    "tiers",
    "segments",
    "trends",
    "paths",
    "drivers",
    "retention",
    "lifecycle",
    "rfm",
    "models",
    "quality",
]
VERDICTS = {"holds", "does not hold", "not enough data"}


@dataclass
class Page:
    """What a reader (or a test) can get back out of findings.html."""

    metrics: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (raw, text)
    duplicate_metrics: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (src, data-file)
    verdicts: dict[str, str] = field(default_factory=dict)
    summary_verdicts: dict[str, str] = field(default_factory=dict)
    section_text: dict[str, str] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._metric: tuple[str, str] | None = None
        self._verdict: tuple[dict[str, str], str] | None = None
        self._section: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self._section = a.get("data-section")
            self._text = []
        if "data-metric" in a:
            self._metric = (a["data-metric"], a["data-value"])
            self._text_metric: list[str] = []
        if "data-verdict" in a:
            self._verdict = (self.page.verdicts, a["data-verdict"])
        if "data-verdict-summary" in a:
            self._verdict = (self.page.summary_verdicts, a["data-verdict-summary"])
        if tag == "img":
            self.page.images.append((a["src"], a.get("data-file", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._metric:
            key, raw = self._metric
            if key in self.page.metrics and self.page.metrics[key][0] != raw:
                self.page.duplicate_metrics.append(key)  # one key, two different values
            self.page.metrics[key] = (raw, "".join(self._text_metric))
            self._metric = None
        if tag == "span" and self._verdict:
            self._verdict = None
        if tag == "section" and self._section:
            self.page.section_text[self._section] = re.sub(r"\s+", " ", "".join(self._text))
            self._section = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._metric:
            self._text_metric.append(data)
        if self._verdict:
            target, key = self._verdict
            target[key] = target.get(key, "") + data.strip()


def parse(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    return parser.page


@dataclass
class Built:
    out: Path
    html: str
    page: Page


@pytest.fixture(scope="module")
def report(built_warehouse: BuiltWarehouse, tmp_path_factory) -> Built:
    out = tmp_path_factory.mktemp("report")
    result = build_report(built_warehouse.path, out)
    html = result.html.read_text(encoding="utf-8")
    return Built(out, html, parse(html))


def one(warehouse: Path, sql: str):
    rows = query(warehouse, sql)
    assert len(rows) == 1, sql
    return rows[0][0]


# Each figure of the page, recomputed straight from the marts.
EXPECTED = {
    "overview.users": "select count(*) from marts.customer_value",
    "overview.buyers": "select count(*) from marts.customer_value where purchases > 0",
    "overview.revenue": "select sum(revenue) from marts.customer_value",
    "overview.events": "select count(*) from staging.stg_events",
    "funnel.user.view.entities_reached": (
        "select entities_reached from marts.funnel_summary where level = 'user' and stage = 'view'"
    ),
    "funnel.user.cart.drop_off_share": (
        "select drop_off_share from marts.funnel_summary where level = 'user' and stage = 'cart'"
    ),
    "funnel.session.purchase.entities_ordered": (
        "select entities_ordered from marts.funnel_summary "
        "where level = 'session' and stage = 'purchase'"
    ),
    "speed.view_to_cart.p50_seconds": (
        "select p50_seconds from marts.time_to_action "
        "where step = 'view_to_cart' and dimension = 'overall'"
    ),
    "speed.cart_to_purchase.session_products": (
        "select session_products from marts.time_to_action "
        "where step = 'cart_to_purchase' and dimension = 'overall'"
    ),
    "engagement.cart_view_ratio.spearman": (
        "select spearman_correlation from marts.engagement_revenue_correlation "
        "where ratio = 'cart_view_ratio' and population = 'ratio_population'"
    ),
    "pareto.top_20pct_revenue_share": (
        "select top_20pct_revenue_share from marts.revenue_concentration"
    ),
    "pareto.revenue_gini": "select revenue_gini from marts.revenue_concentration",
    "tiers.power.users": "select users from marts.tier_profile where value_tier = 'power'",
    "tiers.power.revenue_share": (
        "select revenue_share from marts.tier_profile where value_tier = 'power'"
    ),
    "quality.clean_rows": "select count(*) from staging.stg_events",
    "quality.quarantined_rows": "select count(*) from staging.quarantined_events",
    "quality.first_event_at": "select strftime(min(event_time), '%Y-%m-%d %H:%M:%S') "
    "from staging.stg_events",
    "claims.a.view_to_cart_drop_off": (
        "select drop_off_share from marts.funnel_summary where level = 'user' and stage = 'cart'"
    ),
    "claims.b.power.view_to_cart.p50_seconds": (
        "select quantile_cont(sp.view_to_cart_seconds, 0.5) "
        "from intermediate.int_session_products as sp "
        "join marts.customer_value as v on sp.user_id = v.user_id where v.value_tier = 'power'"
    ),
    "claims.c.top_20pct_revenue_share": (
        "select top_20pct_revenue_share from marts.revenue_concentration"
    ),
}


def test_report_builds_every_section(report: Built) -> None:
    assert (report.out / "findings.html").exists()
    assert list(report.page.section_text) == SECTIONS
    assert not report.page.duplicate_metrics
    for section in ("overview", "funnel", "funnel_dims", "speed", "engagement", "pareto", "tiers"):
        assert "not enough data" not in report.page.section_text[section], section
    assert "Source:" in report.html and "<details>" in report.html


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_numbers_equal_the_marts(report: Built, built_warehouse: BuiltWarehouse, key: str) -> None:
    assert key in report.page.metrics, f"{key} missing from the page"
    raw, _text = report.page.metrics[key]
    expected = one(built_warehouse.path, EXPECTED[key])
    if isinstance(expected, str):
        assert raw == expected
    else:
        assert float(raw) == pytest.approx(float(expected), rel=1e-12, abs=1e-12)


def test_model_metrics_equal_ml_tables(report: Built, built_warehouse: BuiltWarehouse) -> None:
    runs = query(
        built_warehouse.path,
        "select target, status from ml.model_runs where target in ('churn', 'big_spender')",
    )
    for target, status in runs:
        key = f"models.{target}.champion.roc_auc"
        if status != "ok":
            assert key not in report.page.metrics
            continue
        # The champion named on the page has the best mean backtest AUC of every candidate.
        champion = report.page.metrics[f"models.{target}.champion.model"][0]
        means = (
            "from ml.model_metrics where target = '"
            + target
            + "' and evaluation = 'backtest' and metric = 'roc_auc' and statistic = 'mean'"
        )
        best_model, best_auc = query(
            built_warehouse.path, f"select model, value {means} order by value desc limit 1"
        )[0]
        expected = one(built_warehouse.path, f"select value {means} and model = '" + champion + "'")
        assert float(report.page.metrics[key][0]) == pytest.approx(expected, rel=1e-12)
        assert expected == pytest.approx(best_auc, rel=1e-12), (champion, best_model)
        baseline = one(
            built_warehouse.path,
            f"select max(value) {means} and is_baseline",
        )
        margin = float(
            report.page.metrics[f"models.{target}.champion.margin_over_baseline_roc_auc"][0]
        )
        assert margin == pytest.approx(expected - baseline, abs=1e-12)
    # CLV against past revenue, as in the metrics.
    capture = one(
        built_warehouse.path,
        "select value from ml.model_metrics where target = 'clv' and model = 'bg_nbd_gamma_gamma' "
        "and metric = 'top_10pct_revenue_capture' and statistic = 'mean'",
    )
    assert float(report.page.metrics["models.clv.top_10pct_revenue_capture"][0]) == pytest.approx(
        capture, rel=1e-12
    )


def test_risk_segments_equal_the_mart(report: Built, built_warehouse: BuiltWarehouse) -> None:
    rows = query(
        built_warehouse.path,
        "select source, segment, users, backtest_precision, backtest_base_rate "
        "from marts.churn_risk_segments where is_risky",
    )
    assert rows
    for source, segment, users, precision, base in rows:
        key = f"segments.risk.{source}.{segment}"
        assert int(report.page.metrics[f"{key}.users"][0]) == users
        assert float(report.page.metrics[f"{key}.precision"][0]) == pytest.approx(precision)
        assert float(report.page.metrics[f"{key}.base_rate"][0]) == pytest.approx(base)


def test_displayed_text_matches_the_value(report: Built) -> None:
    checked = 0
    for key, (raw, text) in report.page.metrics.items():
        if raw == "null":
            assert text == "n/a", key
        elif text.endswith("%"):
            shown = text[:-1].replace(",", "")
            decimals = len(shown.split(".")[1]) if "." in shown else 0
            assert abs(float(shown) - float(raw) * 100) <= 0.5 * 10**-decimals + 1e-9, key
            checked += 1
        elif text.replace(",", "").isdigit() and "." not in raw:
            assert int(text.replace(",", "")) == int(raw), key
            checked += 1
    assert checked > 20


def test_leading_indicator_spearman_recomputed_in_pandas(
    report: Built, built_warehouse: BuiltWarehouse
) -> None:
    """Claim (d): the Spearman figure equals pandas' rank correlation on the same users."""
    key = "claims.d.cart_view_ratio.spearman"
    if report.page.verdicts["d"] == "not enough data" and key not in report.page.metrics:
        pytest.skip("no snapshot with an observed label window in the small warehouse")
    con = duckdb.connect(str(built_warehouse.path), read_only=True)
    try:
        df = con.sql(
            "select f.cart_to_view_rate_all as ratio, l.future_revenue "
            "from intermediate.int_customer_feature_snapshots as f "
            "join ml.ml_snapshot_labels as l using (user_id, as_of_date) "
            "where f.as_of_date = (select min(as_of_date) from ml.ml_snapshot_labels "
            "where label_window_observed)"
        ).df()
    finally:
        con.close()
    df = df.dropna()
    expected = df["ratio"].rank().corr(df["future_revenue"].rank())
    assert float(report.page.metrics[key][0]) == pytest.approx(expected, rel=1e-9)
    assert int(report.page.metrics["claims.d.cart_view_ratio.users"][0]) == len(df)


def test_every_image_is_a_png_that_exists(report: Built) -> None:
    assert len(report.page.images) >= 12
    files = set()
    for src, data_file in report.page.images:
        assert src.startswith("data:image/png;base64,"), "images must be embedded"
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
        path = report.out / data_file
        assert path.exists(), data_file
        assert path.read_bytes().startswith(PNG_MAGIC)
        assert path.read_bytes() == base64.b64decode(src.split(",", 1)[1])
        files.add(data_file)
    assert files == {p.name for p in report.out.glob("*.png")}
    assert "http://" not in report.html and "https://" not in report.html  # opens offline


def test_verdicts_follow_their_rules(report: Built, built_warehouse: BuiltWarehouse) -> None:
    assert set(report.page.verdicts) == {"a", "b", "c", "d"}
    assert set(report.page.verdicts.values()) <= VERDICTS
    assert report.page.summary_verdicts == report.page.verdicts
    cart_drop, buy_drop = (
        one(
            built_warehouse.path,
            "select drop_off_share from marts.funnel_summary "
            f"where level = 'user' and stage = '{s}'",
        )
        for s in ("cart", "purchase")
    )
    assert report.page.verdicts["a"] == ("holds" if cart_drop > buy_drop else "does not hold")
    share = one(
        built_warehouse.path, "select top_20pct_revenue_share from marts.revenue_concentration"
    )
    within = abs(share - RULES.claimed_top20_share) <= RULES.top20_tolerance
    assert report.page.verdicts["c"] == ("holds" if within else "does not hold")
    parts = [
        report.page.metrics[f"claims.b.part.{p}"][1]
        for p in ("more_time", "more_deliberate", "more_profitable")
    ]
    expected_b = (
        "not enough data"
        if "not measurable" in parts
        else "holds"
        if all(p == "yes" for p in parts)
        else "does not hold"
    )
    assert report.page.verdicts["b"] == expected_b


def test_missing_or_empty_mart_says_not_enough_data(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """Through the command line, on a copy with one mart dropped and another emptied."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.path, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute("drop table marts.revenue_concentration")
        con.execute("delete from marts.time_to_action")
    finally:
        con.close()
    out = tmp_path / "reports"
    assert cli_main(["report", "--warehouse", str(copy), "--out", str(out)]) == 0
    page = parse((out / "findings.html").read_text(encoding="utf-8"))
    assert "not enough data: marts.revenue_concentration is missing" in page.section_text["pareto"]
    assert "not enough data: marts.time_to_action has no rows" in page.section_text["speed"]
    assert page.verdicts["c"] == "not enough data"
    assert "pareto.png" not in {f for _src, f in page.images}
    assert not (out / "pareto.png").exists()
    assert "not enough data" not in page.section_text["funnel"]


def test_command_line_defaults_and_errors(
    built_warehouse: BuiltWarehouse, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "reports"
    assert (
        cli_main(["report", "--warehouse", str(tmp_path / "none.duckdb"), "--out", str(out)]) == 1
    )
    published = tmp_path / "published.duckdb"
    monkeypatch.setenv("PUBLISHED_WAREHOUSE_PATH", str(published))
    monkeypatch.setenv("WAREHOUSE_PATH", str(built_warehouse.path))
    assert default_warehouse() == str(built_warehouse.path)
    published.write_bytes(b"")
    assert default_warehouse() == str(published)
