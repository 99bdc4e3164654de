"""Every model builds and every test passes on any legitimate data shape (issue 16, items 4-5).

One case per shape: views only, purchases only, no cart events, no buyers, one day, one user, a
handful of rows, many remove_from_cart events, all prices 0, bursts of identical duplicate rows
and no user_session at all. Each case writes a tiny REES46 CSV (a few hundred rows at most, seeded)
into its own tmp_path and, in its own dbt target, log and warehouse paths, checks that:

- `dbt build` exits 0 (every model, data test and unit test),
- `python -m warehouse publish` publishes the build,
- `python -m warehouse report` renders, and says "not enough data" for what it cannot compute,
- raw rows = clean + quarantined rows per file, the raw rows counted in Python from the file,
- one fact of the shape that a wrong NULL (or a wrong number) would break.

Each case is independent (its own temporary folders), so the cases can run in any order or in
parallel processes. A build takes 20-40 s here.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR, SMALL_VARS, query, run_dbt
from tests.test_report import SECTIONS, Page, parse

pytestmark = pytest.mark.data_shapes

HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)
START = dt.datetime(2019, 10, 1)
DAYS = 35  # more than two churn horizons (14 days): the ML models get as far as their own checks
CATEGORIES = [
    ("2053013555631882655", "electronics.smartphone"),
    ("2232732093077520756", "construction.tools.light"),
    ("2053013553559896355", ""),
    ("2053013558920217191", "computers.notebook"),
]
BRANDS = ["samsung", "apple", "xiaomi", ""]
NOT_ENOUGH = "not enough data"


@dataclass
class Row:
    event_time: dt.datetime
    event_type: str
    product_id: int
    category_id: str
    category_code: str
    brand: str
    price: str
    user_id: int
    user_session: str

    def line(self) -> str:
        return ",".join(
            [
                self.event_time.strftime("%Y-%m-%d %H:%M:%S UTC"),
                self.event_type,
                str(self.product_id),
                self.category_id,
                self.category_code,
                self.brand,
                self.price,
                str(self.user_id),
                self.user_session,
            ]
        )


def make_rows(seed: int = 16, users: int = 40, days: int = DAYS) -> list[Row]:
    """Seeded REES46 rows: sessions of views, some carts, removes and purchases (~250 rows)."""
    rng = random.Random(seed)
    products = [
        (1000 + i, CATEGORIES[i % len(CATEGORIES)], BRANDS[i % len(BRANDS)], rng.uniform(1, 900))
        for i in range(30)
    ]
    rows: list[Row] = []
    for u in range(users):
        user_id = 512_000_000 + u
        for _ in range(rng.randint(1, 3)):
            at = START + dt.timedelta(seconds=rng.randrange(days * 86_400 - 4 * 3600))
            session = str(uuid.UUID(int=rng.getrandbits(128)))
            for _ in range(rng.randint(1, 3)):
                product_id, (category_id, code), brand, price = rng.choice(products)
                steps = ["view"]
                r = rng.random()
                if r < 0.45:
                    steps.append("cart")
                if r < 0.12:
                    steps.append("remove_from_cart")
                elif r < 0.35:
                    steps.append("purchase")
                for event_type in steps:
                    at += dt.timedelta(seconds=rng.randint(5, 600))
                    rows.append(
                        Row(
                            at,
                            event_type,
                            product_id,
                            category_id,
                            code,
                            brand,
                            f"{price:.2f}",
                            user_id,
                            session,
                        )
                    )
    rows.sort(key=lambda r: (r.event_time, r.user_id, r.event_type))
    return rows


def replace(row: Row, **changes) -> Row:
    return Row(**{**row.__dict__, **changes})


# --------------------------------------------------------------------------------------------
# The shapes: each turns the base rows into the lines of one file.
# --------------------------------------------------------------------------------------------


def views_only(rows: list[Row]) -> list[str]:
    return [r.line() for r in rows if r.event_type == "view"]


def purchases_only(rows: list[Row]) -> list[str]:
    return [r.line() for r in rows if r.event_type == "purchase"]


def no_cart_events(rows: list[Row]) -> list[str]:
    """Views, removes and purchases; not one cart event."""
    return [r.line() for r in rows if r.event_type != "cart"]


def no_buyers(rows: list[Row]) -> list[str]:
    return [r.line() for r in rows if r.event_type != "purchase"]


def one_day(rows: list[Row]) -> list[str]:
    """Every event on 2019-10-01, at its own time of day."""
    day = START.date()
    return [
        replace(r, event_time=dt.datetime.combine(day, r.event_time.time())).line()
        for r in sorted(rows, key=lambda r: r.event_time.time())
    ]


def one_user(rows: list[Row]) -> list[str]:
    return [replace(r, user_id=512_000_001).line() for r in rows]


def handful_of_rows(rows: list[Row]) -> list[str]:
    """Five rows: one user views, carts and buys; another views twice on the next day."""
    a, b = 512_000_001, 512_000_002
    t = START + dt.timedelta(hours=10)
    cat, code = CATEGORIES[0]
    return [
        Row(t, "view", 1001, cat, code, "apple", "499.99", a, "s-a").line(),
        Row(
            t + dt.timedelta(minutes=2), "cart", 1001, cat, code, "apple", "499.99", a, "s-a"
        ).line(),
        Row(
            t + dt.timedelta(minutes=5), "purchase", 1001, cat, code, "apple", "499.99", a, "s-a"
        ).line(),
        Row(t + dt.timedelta(days=1), "view", 1002, cat, "", "", "12.50", b, "s-b").line(),
        Row(
            t + dt.timedelta(days=1, minutes=1),
            "view",
            1001,
            cat,
            code,
            "apple",
            "499.99",
            b,
            "s-b",
        ).line(),
    ]


def many_remove_from_cart(rows: list[Row]) -> list[str]:
    """Every cart is removed three times, and removes without any cart in the session."""
    out = []
    for i, r in enumerate(rows):
        out.append(r)
        if r.event_type == "cart":
            out += [
                replace(
                    r,
                    event_type="remove_from_cart",
                    event_time=r.event_time + dt.timedelta(seconds=k),
                )
                for k in (1, 2, 3)
            ]
        elif r.event_type == "view" and i % 4 == 0:
            out.append(
                replace(
                    r,
                    event_type="remove_from_cart",
                    event_time=r.event_time + dt.timedelta(seconds=1),
                )
            )
    return [r.line() for r in out]


def all_prices_zero(rows: list[Row]) -> list[str]:
    return [replace(r, price="0").line() for r in rows]


BURSTS = [(3, 2), (17, 5), (40, 3), (41, 4), (90, 2), (150, 6)]  # (row index, copies)


def duplicate_bursts(rows: list[Row]) -> list[str]:
    """Some lines written 2-6 times in a row (identical bytes)."""
    copies = dict(BURSTS)
    return [line for i, r in enumerate(rows) for line in [r.line()] * copies.get(i, 1)]


def no_user_session(rows: list[Row]) -> list[str]:
    return [replace(r, user_session="").line() for r in rows]


SHAPES: dict[str, Callable[[list[Row]], list[str]]] = {
    f.__name__: f
    for f in (
        views_only,
        purchases_only,
        no_cart_events,
        no_buyers,
        one_day,
        one_user,
        handful_of_rows,
        many_remove_from_cart,
        all_prices_zero,
        duplicate_bursts,
        no_user_session,
    )
}


# --------------------------------------------------------------------------------------------
# One build per shape
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    shape: str
    csv: Path
    warehouse: Path
    published: Path
    report_dir: Path
    workdir: Path
    lines: list[str] = field(default_factory=list)

    def one(self, sql: str):
        rows = query(self.warehouse, sql)
        assert len(rows) == 1, (sql, rows)
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def rows(self, sql: str) -> list[tuple]:
        return query(self.warehouse, sql)

    @property
    def page(self) -> Page:
        return parse((self.report_dir / "findings.html").read_text(encoding="utf-8"))

    def section(self, name: str) -> str:
        return self.page.section_text[name]


def count_data_lines(path: Path) -> int:
    """Data lines of a REES46 CSV, counted without dbt: non-blank lines after the header."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n")
        assert header == HEADER
        return sum(1 for line in f if line.strip())


def warehouse_cli(args: list[str], case: Case) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(case.warehouse),
        "PUBLISHED_WAREHOUSE_PATH": str(case.published),
    }
    return subprocess.run(
        [sys.executable, "-m", "warehouse", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def build_case(shape: str, tmp_path: Path) -> Case:
    lines = SHAPES[shape](make_rows())
    assert lines, shape
    events = tmp_path / "events"
    events.mkdir()
    csv_path = events / f"{shape}.csv"
    csv_path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    case = Case(
        shape,
        csv_path,
        tmp_path / "warehouse.duckdb",
        tmp_path / "warehouse.published.duckdb",
        tmp_path / "reports",
        tmp_path,
        lines,
    )
    res = run_dbt(
        ["build", "--vars", SMALL_VARS],
        events_path=csv_path,
        warehouse_path=case.warehouse,
        workdir=tmp_path,
    )
    assert res.ok, f"dbt build failed on {shape}:\n{res.output[-6000:]}"
    published = warehouse_cli(
        ["publish", "--run-results", str(tmp_path / "target" / "run_results.json")], case
    )
    assert published.returncode == 0, published.stdout + published.stderr
    assert case.published.exists()
    report = warehouse_cli(["report", "--out", str(case.report_dir)], case)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "Traceback" not in report.stderr
    return case


# --------------------------------------------------------------------------------------------
# What every shape must show, and one fact per shape
# --------------------------------------------------------------------------------------------


def check_rows_add_up(case: Case) -> None:
    raw = count_data_lines(case.csv)
    assert raw == len(case.lines)
    per_file = case.rows(
        """
        select source_file, sum(clean) as clean, sum(quarantined) as quarantined
        from (
            select source_file, 1 as clean, 0 as quarantined from staging.stg_events
            union all
            select source_file, 0, 1 from staging.quarantined_events
        )
        group by source_file
        """
    )
    assert len(per_file) == 1, per_file
    source_file, clean, quarantined = per_file[0]
    assert Path(source_file).name == case.csv.name
    assert clean + quarantined == raw, (clean, quarantined, raw)


def check_report(case: Case) -> None:
    """Every section renders, and no text (charts aside) shows a NaN or a made-up number."""
    page = case.page
    assert list(page.section_text) == SECTIONS
    assert not page.duplicate_metrics
    for name, text in page.section_text.items():
        for word in ("NaN", "nan%", " nan ", "inf%", "None"):
            assert word not in text, (name, word)
    for key, (raw, text) in page.metrics.items():
        assert raw not in ("nan", "inf", "-inf"), key
        assert (raw == "null") == (text == "n/a"), key
    # Tiny data: the models are skipped, and the report says why instead of printing metrics.
    runs = case.rows("select target, reason from ml.model_runs where status = 'skipped'")
    for target, reason in runs:
        assert f"{NOT_ENOUGH}: the {target} model was skipped: {reason}" in case.section("models")
    assert case.one("select count(*) from marts.customer_value") == int(
        page.metrics["overview.users"][0]
    )


def pareto_undefined(case: Case) -> None:
    buyers, total, top20, gini, target_n = case.one(
        "select buyers, total_revenue, top_20pct_revenue_share, revenue_gini, "
        "buyers_for_revenue_target from marts.revenue_concentration"
    )
    assert top20 is None and gini is None and target_n is None, (buyers, total, top20)
    shares = case.rows(
        "select count(*), count(cumulative_revenue_share), count(percentile_revenue_share) "
        "from marts.revenue_pareto"
    )
    assert shares[0][1:] == (0, 0), shares
    pareto = case.section("pareto")
    assert f"{NOT_ENOUGH}: no revenue from buyers" in pareto
    assert "pareto.png" not in {f for _src, f in case.page.images}
    assert "pareto.top_20pct_revenue_share" not in case.page.metrics


def check_views_only(case: Case) -> None:
    assert case.one("select buyers from marts.revenue_concentration") == 0
    pareto_undefined(case)
    # Browsers viewed and never carted: the view -> cart rate is defined and 0; cart -> purchase
    # has no carting user to divide by.
    v2c, c2p, revenue_share = case.one(
        "select view_to_cart_user_rate, cart_to_purchase_user_rate, revenue_share "
        "from marts.tier_profile where value_tier = 'browser'"
    )
    assert v2c == 0 and c2p is None and revenue_share is None
    assert case.one("select count(*) from marts.tier_profile where users > 0") == 1
    assert f"{NOT_ENOUGH}: user level: no user carted after a view" in case.section("funnel")
    assert f"{NOT_ENOUGH}: no revenue" in case.section("tiers")
    # No buyer: no RFM segment; no cart: no cart step to follow or to drive.
    assert f"{NOT_ENOUGH}: marts.rfm_segments has no rows" in case.section("rfm")
    assert f"{NOT_ENOUGH}: no cart event to follow" in case.section("paths")
    assert f"{NOT_ENOUGH}: marts.conversion_drivers has no cart → purchase rows" in case.section(
        "drivers"
    )


def check_purchases_only(case: Case) -> None:
    rows = case.rows(
        "select value_tier, view_to_cart_user_rate, cart_to_purchase_user_rate, "
        "view_to_cart_session_rate, cart_to_purchase_session_rate "
        "from marts.tier_profile where users > 0"
    )
    assert rows and all(r[1:] == (None, None, None, None) for r in rows), rows
    assert case.one("select sum(revenue_share) from marts.tier_profile") == pytest.approx(1.0)
    viewers, conversion, drop_off = case.one(
        "select v.entities_reached, p.conversion_from_view, c.drop_off_share "
        "from marts.funnel_summary as v, marts.funnel_summary as c, marts.funnel_summary as p "
        "where v.level = 'user' and c.level = 'user' and p.level = 'user' "
        "and v.stage = 'view' and c.stage = 'cart' and p.stage = 'purchase'"
    )
    assert viewers == 0 and conversion is None and drop_off is None
    assert f"{NOT_ENOUGH}: user level: no user viewed a product" in case.section("funnel")
    # Nobody viewed: nobody enters the weekly funnel, and no step has an entity to compare.
    assert f"{NOT_ENOUGH}: marts.funnel_trends has no rows" in case.section("trends")
    assert f"{NOT_ENOUGH}: marts.conversion_drivers has no rows" in case.section("drivers")


def check_no_cart_events(case: Case) -> None:
    carting, rate = case.one(
        "select carting_sessions, session_abandonment_rate from marts.cart_abandonment "
        "where dimension = 'overall'"
    )
    assert carting == 0 and rate is None
    assert (
        case.one("select count(*) from marts.time_to_action where step = 'cart_to_purchase'") == 0
    )
    assert case.one("select buyers from marts.revenue_concentration") > 0
    assert f"{NOT_ENOUGH}: no session has a cart event" in case.section("speed")


def check_no_buyers(case: Case) -> None:
    pareto_undefined(case)
    c2p = case.one(
        "select cart_to_purchase_user_rate from marts.tier_profile where value_tier = 'browser'"
    )
    assert c2p == 0  # users carted and none bought: defined, and 0


def check_one_day(case: Case) -> None:
    assert case.one("select count(distinct event_date) from staging.stg_events") == 1
    runs = case.rows("select target, status, reason from ml.model_runs order by target")
    assert [r[1] for r in runs] == ["skipped", "skipped", "skipped"], runs
    assert all(r[2] for r in runs)
    assert NOT_ENOUGH in case.section("models")
    assert case.page.verdicts["d"] == NOT_ENOUGH


def check_one_user(case: Case) -> None:
    assert case.one("select count(*) from marts.customer_value") == 1
    rho = case.rows("select spearman_correlation from marts.engagement_revenue_correlation")
    assert all(r[0] is None for r in rho), rho  # a correlation over one user is undefined
    assert "the correlation with revenue is undefined" in case.section("engagement")


def check_handful_of_rows(case: Case) -> None:
    assert case.one("select count(*) from staging.stg_events") == 5
    assert case.one("select buyers from marts.revenue_concentration") == 1
    assert case.one("select top_20pct_revenue_share from marts.revenue_concentration") == 1.0
    # Two days of data: no week after the first to compare, follow or sum up.
    assert f"{NOT_ENOUGH}: fewer than two fully observable entry weeks" in case.section("trends")
    assert f"{NOT_ENOUGH}: first-visit cohorts: no cohort after the first" in case.section(
        "retention"
    )
    assert f"{NOT_ENOUGH}: any activity: no complete week after the first" in case.section(
        "lifecycle"
    )


def check_many_remove_from_cart(case: Case) -> None:
    removes = sum(1 for line in case.lines if ",remove_from_cart," in line)
    assert (
        case.one("select count(*) from staging.stg_events where event_type = 'remove_from_cart'")
        == removes
    )
    rates = case.rows(
        "select session_abandonment_rate, carting_sessions_with_remove_share, "
        "remove_from_cart_per_cart from marts.cart_abandonment"
    )
    assert rates and all(0 <= r[0] <= 1 and 0 <= r[1] <= 1 and r[2] >= 1 for r in rates), rates


def check_all_prices_zero(case: Case) -> None:
    buyers, total = case.one("select buyers, total_revenue from marts.revenue_concentration")
    assert buyers > 0 and total == 0
    pareto_undefined(case)
    shares = case.rows("select revenue_share from marts.tier_profile")
    assert all(s[0] is None for s in shares), shares  # a share of zero revenue is undefined
    assert f"{NOT_ENOUGH}: no revenue" in case.section("tiers")


def check_duplicate_bursts(case: Case) -> None:
    expected = sum(copies - 1 for _i, copies in BURSTS)
    got = case.one("select count(*) from staging.quarantined_events where reason = 'duplicate_row'")
    assert got == expected
    assert case.one("select count(*) from staging.stg_events") == len(case.lines) - expected


def check_no_user_session(case: Case) -> None:
    sessions = case.rows(
        "select count(*), count(*) filter (where session_id like 'nosession-%') "
        "from staging.stg_events"
    )
    assert sessions[0][0] == sessions[0][1] > 0


CHECKS: dict[str, Callable[[Case], None]] = {
    "views_only": check_views_only,
    "purchases_only": check_purchases_only,
    "no_cart_events": check_no_cart_events,
    "no_buyers": check_no_buyers,
    "one_day": check_one_day,
    "one_user": check_one_user,
    "handful_of_rows": check_handful_of_rows,
    "many_remove_from_cart": check_many_remove_from_cart,
    "all_prices_zero": check_all_prices_zero,
    "duplicate_bursts": check_duplicate_bursts,
    "no_user_session": check_no_user_session,
}


def test_every_shape_has_a_check() -> None:
    assert set(CHECKS) == set(SHAPES)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_shape_builds_publishes_and_reports(shape: str, tmp_path: Path) -> None:
    case = build_case(shape, tmp_path)
    check_rows_add_up(case)
    check_report(case)
    CHECKS[shape](case)
