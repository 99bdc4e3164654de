"""Matplotlib charts of the findings report (Agg backend, PNG bytes).

Each function takes small DataFrames already read from the marts and returns PNG bytes. Charts
share one look: a title, axis labels with units, tick labels wrapped or rotated so that they never
overlap, and values written on bars where reading them off an axis would be hard.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

DPI = 110
BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#3465a4",
    "#f57900",
    "#4e9a06",
    "#cc0000",
    "#888a85",
    "#75507b",
)
LIGHT_BLUE = "#9fbfe5"
TIER_COLORS = {"power": "#204a87", "core": "#3465a4", "light": "#729fcf", "browser": GREY}
BAND_COLORS = {"high": RED, "medium": ORANGE, "low": GREEN}

plt.rcParams.update(
    {
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.labelsize": 10,
        "figure.titlesize": 13,
        "figure.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.frameon": False,
    }
)

thousands = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def wrap(label: object, width: int = 16, humanize: bool = False) -> str:
    """Wrap a tick label on spaces; data values keep their exact spelling unless humanize."""
    text = str(label).replace("_", " ") if humanize else str(label)
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _percent_ticks(ax) -> None:
    """Ticks from 0% to at most 100%, even when headroom extends the axis above 100%."""
    top = min(1.0, ax.get_ylim()[1])
    step = 0.2 if top > 0.5 else 0.1 if top > 0.2 else 0.05
    ax.set_yticks(np.arange(0, top + 1e-9, step))


def _headroom(ax, share: float) -> None:
    """Extend the value axis so that labels and a legend fit above the tallest bar."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + (high - low) * share)


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw):
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height), layout="constrained", squeeze=False, **kw
    )
    return fig, axes.ravel()


def _texts(values: pd.Series, fmt: str) -> list[str]:
    """Bar labels: an undefined (null) figure reads "n/a", never 0 or nan."""
    return ["n/a" if pd.isna(v) else format(v, fmt) for v in values]


def _bar_labels(ax, bars, texts: list[str], inside: bool = False, fontsize: int = 9) -> None:
    ax.bar_label(bars, labels=texts, padding=2, fontsize=fontsize, label_type="edge")
    if not inside:
        ax.margins(y=0.15) if bars.orientation == "vertical" else ax.margins(x=0.22)


def funnel_levels(df: pd.DataFrame) -> bytes:
    """Reached and ordered entities per stage, user and session level, with drop-offs."""
    levels = [lv for lv in ("user", "session") if lv in set(df["level"])]
    fig, axes = _figure(12, 4.6, ncols=len(levels))
    for ax, level in zip(axes, levels, strict=True):
        d = df[df["level"] == level].sort_values("stage_order")
        x = np.arange(len(d))
        reached = ax.bar(x - 0.2, d["entities_reached"], 0.4, color=LIGHT_BLUE, label="reached")
        ordered = ax.bar(x + 0.2, d["entities_ordered"], 0.4, color=BLUE, label="reached in order")
        _bar_labels(ax, reached, [f"{v:,}" for v in d["entities_reached"]], fontsize=8)
        _bar_labels(ax, ordered, [f"{v:,}" for v in d["entities_ordered"]], fontsize=8)
        ax.set_xticks(x, d["stage"].tolist())
        top = float(d["entities_reached"].max())
        for i, (_, row) in enumerate(d.iterrows()):
            if pd.notna(row["drop_off_share"]):
                ax.annotate(
                    f"drop-off from\nprevious: {row['drop_off_share']:.1%}",
                    (i, top * 0.55),
                    ha="center",
                    fontsize=9,
                    color=RED,
                )
        ax.set_title(f"{level.capitalize()} level")
        ax.set_xlabel("funnel stage")
        ax.set_ylabel(f"{level}s (count)")
        ax.yaxis.set_major_formatter(thousands)
        ax.legend(loc="upper right")
    fig.suptitle("Funnel: users and sessions reaching each stage")
    return to_png(fig)


def funnel_by_dimension(df: pd.DataFrame, dimension_label: str, sort_by_viewers: bool) -> bytes:
    """User-level ordered step conversion per dimension value (horizontal bars)."""
    d = df.copy()
    d = d.sort_values("viewers" if sort_by_viewers else "value_order", ascending=sort_by_viewers)
    if not sort_by_viewers:
        d = d.iloc[::-1]
    labels = [
        f"{wrap(v, 22)}  (n={n:,})" for v, n in zip(d["dimension_value"], d["viewers"], strict=True)
    ]
    y = np.arange(len(d))
    fig, axes = _figure(12, max(3.2, 0.42 * len(d) + 1.6), ncols=2, sharey=True)
    panels = [
        ("view_to_cart", "View → cart (users who carted after a view)", BLUE),
        ("cart_to_purchase", "Cart → purchase (users who bought after a cart)", GREEN),
    ]
    for ax, (col, title, color) in zip(axes, panels, strict=True):
        values = d[col].astype(float).fillna(0)
        bars = ax.barh(y, values, color=color, height=0.65)
        _bar_labels(ax, bars, [f"{v:.1%}" if pd.notna(v) else "n/a" for v in d[col]], fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("conversion from the previous stage (% of users)")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, labels)
    axes[0].set_ylabel(f"{dimension_label} (n = users who viewed)")
    fig.suptitle(f"Funnel by {dimension_label}: user-level conversion per step")
    return to_png(fig)


def _percentile_rows(ax, d: pd.DataFrame, labels: list[str], color: str) -> None:
    y = np.arange(len(d))
    ax.hlines(y, d["p25_seconds"], d["p75_seconds"], color=color, linewidth=7, alpha=0.55)
    ax.hlines(y, d["p75_seconds"], d["p90_seconds"], color=color, linewidth=1.5)
    ax.plot(d["p50_seconds"], y, "o", color="black", markersize=5, label="median")
    ax.plot(d["p90_seconds"], y, "|", color=color, markersize=10, label="90th percentile")
    ax.plot(d["mean_seconds"], y, "x", color=RED, markersize=6, label="mean")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(d) - 0.3)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)


def time_to_action(df: pd.DataFrame, title: str) -> bytes:
    """p25-p75 bar, whisker to p90, median dot and mean cross per row, one panel per step."""
    steps = [s for s in ("view_to_cart", "cart_to_purchase") if s in set(df["step"])]
    n_rows = max(len(df[df["step"] == s]) for s in steps)
    fig, axes = _figure(12, max(3.0, 0.38 * n_rows + 1.8), ncols=len(steps))
    for ax, step in zip(axes, steps, strict=True):
        d = df[df["step"] == step].reset_index(drop=True)
        labels = [
            f"{wrap(v, 22)}  (n={n:,})"
            for v, n in zip(d["label"], d["session_products"], strict=True)
        ]
        _percentile_rows(ax, d, labels, BLUE if step == "view_to_cart" else GREEN)
        ax.set_title(step.replace("_to_", " → ").replace("_", " "))
        ax.set_xlabel("seconds (bar: 25th–75th percentile, line to 90th)")
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlim(0, float(d["p90_seconds"].max()) * 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9)
    fig.suptitle(title)
    return to_png(fig)


def conversion_delay(df: pd.DataFrame) -> bytes:
    fig, axes = _figure(9, 4)
    ax = axes[0]
    bars = ax.bar(df["delay_bucket"], df["share_of_conversions"].fillna(0), color=PURPLE)
    _bar_labels(ax, bars, [f"{v:,}" for v in df["conversions"]])
    ax.set_title("Carts bought in a later session: delay from cart to purchase")
    ax.set_xlabel("delay from first cart to purchase (bucket)")
    ax.set_ylabel("share of later-session conversions (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="x", visible=False)
    return to_png(fig)


RATIO_LABELS = {
    "cart_view_ratio": "cart / view ratio",
    "purchase_cart_ratio": "purchase / cart ratio",
    "purchasing_session_ratio": "purchasing sessions / sessions",
}


def engagement_deciles(df: pd.DataFrame) -> bytes:
    ratios = [r for r in RATIO_LABELS if r in set(df["ratio"])]
    fig, axes = _figure(13, 4.3, ncols=len(ratios))
    for ax, ratio in zip(axes, ratios, strict=True):
        d = df[df["ratio"] == ratio].sort_values("decile")
        zero = d.loc[d["ratio_max"].fillna(0) <= 0, "decile"]
        if len(zero):
            ax.axvspan(
                0.5,
                float(zero.max()) + 0.5,
                color=GREY,
                alpha=0.15,
                label="deciles where ratio = 0",
            )
        ax.bar(d["decile"], d["revenue_per_user_mean"], color=BLUE, label="mean")
        ax.plot(d["decile"], d["revenue_per_user_median"], "o-", color=ORANGE, label="median")
        _headroom(ax, 0.25)
        ax.set_title(RATIO_LABELS[ratio])
        ax.set_xlabel("decile of the ratio (1 = lowest, 10 = highest)")
        ax.set_ylabel("revenue per user (price units)")
        ax.set_xticks(range(1, 11))
        ax.yaxis.set_major_formatter(thousands)
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left")
    fig.suptitle("Engagement ratio deciles vs revenue per user")
    return to_png(fig)


def pareto(curve: pd.DataFrame, top20: float | None, target: float | None, target_share) -> bytes:
    fig, axes = _figure(8.5, 5.2)
    ax = axes[0]
    x = np.concatenate([[0], curve["buyer_percentile"].to_numpy(dtype=float)]) / 100
    y = np.concatenate([[0], curve["cumulative_revenue_share"].to_numpy(dtype=float)])
    ax.plot(x, y, color=BLUE, linewidth=2.2, label="cumulative revenue share")
    ax.plot([0, 1], [0, 1], "--", color=GREY, linewidth=1, label="equal revenue per buyer")
    if top20 is not None:
        ax.plot([0.2, 0.2], [0, top20], ":", color=RED)
        ax.plot([0, 0.2], [top20, top20], ":", color=RED)
        ax.plot([0.2], [top20], "o", color=RED)
        ax.annotate(
            f"top 20% of buyers\n→ {top20:.1%} of revenue",
            (0.2, top20),
            xytext=(0.23, max(0.05, top20 - 0.22)),
            color=RED,
            arrowprops={"arrowstyle": "->", "color": RED},
        )
    if target is not None and target_share is not None:
        ax.plot([target_share], [target], "s", color=GREEN)
        ax.annotate(
            f"{target_share:.1%} of buyers\n→ {target:.0%} of revenue",
            (target_share, target),
            xytext=(min(target_share + 0.05, 0.8), max(0.05, target - 0.14)),
            color=GREEN,
            arrowprops={"arrowstyle": "->", "color": GREEN},
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("top buyers by revenue (% of buyers)")
    ax.set_ylabel("share of total revenue (%)")
    ax.set_title("Revenue concentration (Pareto curve)")
    ax.legend(loc="lower right")
    return to_png(fig)


def tier_profile(df: pd.DataFrame) -> bytes:
    d = df.sort_values("tier_order")
    tiers = d["value_tier"].tolist()
    x = np.arange(len(d))
    colors = [TIER_COLORS.get(t, GREY) for t in tiers]
    fig, axes = _figure(12, 8, ncols=2, nrows=2)

    ax = axes[0]
    b1 = ax.bar(x - 0.2, d["user_share"].fillna(0), 0.4, color=GREY, label="share of users")
    b2 = ax.bar(x + 0.2, d["revenue_share"].fillna(0), 0.4, color=BLUE, label="share of revenue")
    _bar_labels(ax, b1, _texts(d["user_share"], ".1%"), fontsize=8)
    _bar_labels(ax, b2, _texts(d["revenue_share"], ".1%"), fontsize=8)
    ax.set_title("Users and revenue by tier")
    ax.set_ylabel("share (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _headroom(ax, 0.2)
    _percent_ticks(ax)
    ax.legend(loc="upper left", ncols=2)

    ax = axes[1]
    bars = ax.bar(x, d["revenue_per_user"].fillna(0), color=colors)
    _bar_labels(ax, bars, _texts(d["revenue_per_user"], ",.0f"))
    ax.set_title("Revenue per user")
    ax.set_ylabel("revenue per user (price units)")
    ax.yaxis.set_major_formatter(thousands)

    ax = axes[2]
    b1 = ax.bar(x - 0.2, d["sessions_per_user"].fillna(0), 0.4, color=BLUE, label="sessions")
    b2 = ax.bar(
        x + 0.2, d["days_active_per_user"].fillna(0), 0.4, color=ORANGE, label="active days"
    )
    _bar_labels(ax, b1, _texts(d["sessions_per_user"], ".1f"), fontsize=8)
    _bar_labels(ax, b2, _texts(d["days_active_per_user"], ".1f"), fontsize=8)
    ax.set_title("Engagement per user")
    ax.set_ylabel("sessions or days per user (count)")
    _headroom(ax, 0.15)
    ax.legend(loc="upper right", ncols=2)

    ax = axes[3]
    b1 = ax.bar(
        x - 0.2,
        d["view_to_cart_session_rate"].fillna(0),
        0.4,
        color=BLUE,
        label="view → cart",
    )
    b2 = ax.bar(
        x + 0.2,
        d["cart_to_purchase_session_rate"].fillna(0),
        0.4,
        color=GREEN,
        label="cart → purchase",
    )
    _bar_labels(ax, b1, _texts(d["view_to_cart_session_rate"], ".0%"), fontsize=8)
    _bar_labels(ax, b2, _texts(d["cart_to_purchase_session_rate"], ".0%"), fontsize=8)
    ax.set_title("Session-level conversion by tier")
    ax.set_ylabel("sessions converting (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _headroom(ax, 0.2)
    _percent_ticks(ax)
    ax.legend(loc="upper left", ncols=2)

    for ax in axes:
        ax.set_xticks(x, tiers)
        ax.set_xlabel("value tier")
        ax.grid(axis="x", visible=False)
    fig.suptitle("How behaviour differs by value tier")
    return to_png(fig)


def segments(df: pd.DataFrame) -> bytes:
    d = df.sort_values("users", ascending=True)
    y = np.arange(len(d))
    labels = [wrap(s, 26) for s in d["name"]]
    colors = [RED if r else GREY for r in d["is_risky"]]
    fig, axes = _figure(12, max(3.5, 0.5 * len(d) + 1.6), ncols=2, sharey=True)
    panels = [("user_share", "Share of users"), ("revenue_share", "Share of revenue")]
    for ax, (col, title) in zip(axes, panels, strict=True):
        values = d[col].astype(float).fillna(0)
        bars = ax.barh(y, values, color=colors, height=0.65)
        _bar_labels(ax, bars, _texts(d[col], ".1%"), fontsize=8)
        ax.set_title(title)
        ax.set_xlabel(f"{title.lower()} (%)")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, labels)
    axes[0].set_ylabel("segment (red = risky or unprofitable)")
    fig.suptitle("Customer segments: size and revenue")
    return to_png(fig)


def revenue_at_risk(df: pd.DataFrame) -> bytes:
    tiers = [t for t in ("power", "core", "light") if t in set(df["value_tier"])]
    bands = [b for b in ("high", "medium", "low") if b in set(df["churn_risk_band"])]
    fig, axes = _figure(9, 4.6)
    ax = axes[0]
    bottom = np.zeros(len(tiers))
    for band in bands:
        vals = np.array(
            [
                df.loc[
                    (df["value_tier"] == t) & (df["churn_risk_band"] == band),
                    "expected_revenue_at_risk",
                ].sum()
                for t in tiers
            ]
        )
        ax.bar(tiers, vals, bottom=bottom, color=BAND_COLORS[band], label=f"{band} churn risk")
        bottom += vals
    for i, total in enumerate(bottom):
        ax.annotate(f"{total:,.0f}", (i, total), ha="center", va="bottom", fontsize=9)
    ax.margins(y=0.12)
    ax.set_title("Expected revenue at risk by value tier and churn risk band")
    ax.set_xlabel("value tier")
    ax.set_ylabel("expected revenue at risk (price units)")
    ax.yaxis.set_major_formatter(thousands)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper right")
    return to_png(fig)


def model_metrics(df: pd.DataFrame) -> bytes:
    """ROC AUC and PR AUC per model, baselines hatched, one panel per target."""
    targets = [t for t in ("churn", "big_spender") if t in set(df["target"])]
    fig, axes = _figure(12, 4.8, ncols=len(targets))
    for ax, target in zip(axes, targets, strict=True):
        d = df[df["target"] == target].sort_values(["is_baseline", "model"])
        x = np.arange(len(d))
        for offset, metric, color in ((-0.2, "roc_auc", BLUE), (0.2, "pr_auc", ORANGE)):
            bars = ax.bar(
                x + offset,
                d[metric].fillna(0),
                0.4,
                color=color,
                label=metric.replace("_", " ").upper(),
            )
            for bar, base in zip(bars, d["is_baseline"], strict=True):
                if base:
                    bar.set_hatch("//")
                    bar.set_alpha(0.6)
            _bar_labels(ax, bars, _texts(d[metric], ".2f"), fontsize=8)
        names = [
            wrap(m + (" (baseline)" if b else ""), 14, humanize=True)
            for m, b in zip(d["model"], d["is_baseline"], strict=True)
        ]
        ax.set_xticks(x, names, fontsize=8)
        ax.set_ylim(0, 1.15)
        ax.set_title(f"{target.replace('_', ' ')}: backtest (hatched = baseline)")
        ax.set_xlabel("model")
        ax.set_ylabel("score (0–1, higher is better)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper right", ncols=2)
    fig.suptitle("Model quality on the out-of-time backtest, beside baselines")
    return to_png(fig)


def feature_importance(df: pd.DataFrame) -> bytes:
    targets = [t for t in ("churn", "big_spender") if t in set(df["target"])]
    n = max(len(df[df["target"] == t]) for t in targets)
    fig, axes = _figure(12, max(3.5, 0.36 * n + 1.6), ncols=len(targets))
    for ax, target in zip(axes, targets, strict=True):
        d = df[df["target"] == target].sort_values("importance")
        y = np.arange(len(d))
        ax.barh(y, d["importance"], xerr=d["importance_std"].fillna(0), color=BLUE, height=0.6)
        ax.set_yticks(y, d["feature"].tolist(), fontsize=8)
        ax.set_title(f"{target.replace('_', ' ')}: top features ({d['model'].iloc[0]})")
        ax.set_xlabel("mean drop in ROC AUC when shuffled")
        ax.grid(axis="y", visible=False)
    fig.suptitle("Permutation importance on the backtest snapshot")
    return to_png(fig)


def data_quality(files: pd.DataFrame, reasons: pd.DataFrame, daily: pd.DataFrame) -> bytes:
    fig = plt.figure(figsize=(12, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 2)

    ax = fig.add_subplot(grid[0, 0])
    f = files.sort_values("source_file").reset_index(drop=True)
    y = np.arange(len(f))
    ax.barh(y, f["clean_rows"], color=BLUE, height=0.6)
    for i, (c, qn) in enumerate(zip(f["clean_rows"], f["quarantined_rows"], strict=True)):
        share = qn / (c + qn) if c + qn else 0
        ax.annotate(
            f" {c:,} clean\n +{qn:,} quarantined ({share:.2%})", (c, i), va="center", fontsize=8
        )
    ax.set_yticks(y, [wrap(s, 28) for s in f["file_name"]], fontsize=8)
    ax.set_ylim(max(len(f), 3) - 0.4, -0.6)
    ax.set_xlim(0, float(f["clean_rows"].max() or 1) * 1.6)
    ax.set_title("Clean rows per source file")
    ax.set_xlabel("clean rows (count)")
    ax.xaxis.set_major_formatter(thousands)
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", visible=False)

    ax = fig.add_subplot(grid[0, 1])
    if len(reasons):
        r = reasons.sort_values("rows", ascending=False).reset_index(drop=True)
        bars = ax.barh(np.arange(len(r)), r["rows"], color=RED, height=0.6)
        ax.set_yticks(np.arange(len(r)), r["reason"].tolist())
        ax.set_ylim(max(len(r), 3) - 0.4, -0.6)
        _bar_labels(ax, bars, [f"{v:,}" for v in r["rows"]], fontsize=8)
    else:
        ax.text(0.5, 0.5, "no quarantined rows", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_title("Quarantined rows by reason")
    ax.set_xlabel("quarantined rows (count)")
    ax.xaxis.set_major_formatter(thousands)
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", visible=False)

    ax = fig.add_subplot(grid[1, :])
    dates = pd.to_datetime(daily["event_date"])
    if len(daily) > 14:
        ax.plot(dates, daily["events"], color=BLUE, linewidth=1.2)
        ax.fill_between(dates, daily["events"], color=BLUE, alpha=0.15)
    else:  # a few days: one labelled bar per day
        labels = [d.strftime("%Y-%m-%d") for d in dates]
        ax.bar(labels, daily["events"], color=BLUE, width=0.6)
        pad = max(0.0, (7 - len(labels)) / 2)
        ax.set_xlim(-0.5 - pad, len(labels) - 0.5 + pad)
        ax.grid(axis="x", visible=False)
    ax.set_title("Clean events per day")
    ax.set_xlabel("event date (UTC)")
    ax.set_ylabel("events per day (count)")
    ax.yaxis.set_major_formatter(thousands)
    ax.set_ylim(bottom=0)
    ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Data quality: clean and quarantined rows, coverage")
    return to_png(fig)


def tier_speed(df: pd.DataFrame) -> bytes:
    """Claim (b): time to action by value tier (same drawing as time_to_action)."""
    return time_to_action(df, "Time to action by value tier (same session and product)")


def leading_deciles(df: pd.DataFrame, horizon_days: int | None) -> bytes:
    ratios = [r for r in ("cart_view_ratio", "purchasing_session_ratio") if r in set(df["ratio"])]
    fig, axes = _figure(12, 4.3, ncols=len(ratios))
    for ax, ratio in zip(axes, ratios, strict=True):
        d = df[df["ratio"] == ratio].sort_values("decile")
        bars = ax.bar(d["decile"], d["future_revenue_mean"], color=GREEN)
        _bar_labels(ax, bars, [f"{v:,.0f}" for v in d["future_revenue_mean"]], fontsize=8)
        ax.set_title(f"{RATIO_LABELS[ratio]} before the cutoff")
        ax.set_xlabel("decile of the ratio at the cutoff (1 = lowest, 10 = highest)")
        ax.set_ylabel(f"mean revenue in the next {horizon_days} days (price units)")
        ax.set_xticks(range(1, 11))
        ax.yaxis.set_major_formatter(thousands)
        ax.grid(axis="x", visible=False)
    fig.suptitle("Leading indicators: ratio before the cutoff vs revenue after it")
    return to_png(fig)


def backtest_cutoffs(df: pd.DataFrame) -> bytes:
    """ROC AUC of every model and baseline at each backtest cutoff, one panel per target."""
    targets = [t for t in ("churn", "big_spender") if t in set(df["target"])]
    fig, axes = _figure(12, 4.4, ncols=len(targets))
    for ax, target in zip(axes, targets, strict=True):
        d = df[df["target"] == target]
        for model, rows in d.groupby("model", sort=True):
            rows = rows.sort_values("cutoff_date")
            baseline = bool(rows["is_baseline"].iloc[0])
            ax.plot(
                pd.to_datetime(rows["cutoff_date"]),
                rows["roc_auc"],
                marker="o",
                linestyle="--" if baseline else "-",
                label=wrap(model + (" (baseline)" if baseline else ""), 28, humanize=True),
            )
        ax.set_title(f"{target.replace('_', ' ')}: ROC AUC per cutoff (dashed = baseline)")
        ax.set_xlabel("cutoff (judged on the next horizon)")
        ax.set_ylabel("ROC AUC (higher is better)")
        ax.legend(loc="lower right", fontsize=8)
        fig.autofmt_xdate()
    fig.suptitle("Rolling-origin backtest")
    return to_png(fig)
