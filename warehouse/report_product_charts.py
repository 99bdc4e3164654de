"""Charts of the product-analytics sections (retention, lifecycle, drivers, paths, trends, RFM).

Same look and helpers as `report_charts` (Agg backend, PNG bytes, titles, axis labels with
units); each function takes small DataFrames already read from the marts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, PercentFormatter

from warehouse.report_charts import (
    BLUE,
    GREEN,
    GREY,
    LIGHT_BLUE,
    ORANGE,
    PURPLE,
    RED,
    _bar_labels,
    _figure,
    plt,
    thousands,
    to_png,
    wrap,
)
from warehouse.report_model import fmt_odds

STEP_TITLES = {"view_to_cart": "View → cart", "cart_to_purchase": "Cart → purchase"}


# --------------------------------------------------------------------------------------------
# Cohort retention
# --------------------------------------------------------------------------------------------

RETENTION_KINDS = {
    "first_visit": ("First-visit cohorts: back with any event", "active"),
    "first_purchase": ("First-purchase cohorts: bought again", "bought"),
}


def retention_curves(curve: pd.DataFrame, grain: str) -> bytes:
    """Mean retention by period since the cohort's period (period 0 = 100%, not drawn)."""
    kinds = [k for k in RETENTION_KINDS if k in set(curve["cohort_kind"])]
    fig, axes = _figure(12, 4.6, ncols=len(kinds))
    for ax, kind in zip(axes, kinds, strict=True):
        title, verb = RETENTION_KINDS[kind]
        d = curve[(curve["cohort_kind"] == kind) & (curve["period_number"] >= 1)]
        d = d.sort_values("period_number")
        ax.plot(
            d["period_number"],
            d["rolling_retention_rate"],
            "--",
            color=ORANGE,
            label=f"{verb} in that {grain} or a later one",
        )
        ax.plot(
            d["period_number"],
            d["retention_rate"],
            "o-",
            color=BLUE,
            markersize=4,
            label=f"{verb} in that {grain}",
        )
        first = d.iloc[0]
        ax.annotate(
            f"{first['retention_rate']:.1%} after 1 {grain}",
            (first["period_number"], first["retention_rate"]),
            xytext=(8, 5),
            textcoords="offset points",
            fontsize=9,
            color=BLUE,
        )
        ax.set_ylim(0, max(0.01, float(d["rolling_retention_rate"].max()) * 1.2))
        ax.set_xlim(0.5, float(d["period_number"].max()) + 0.5)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel(f"{grain}s since the cohort's {grain} (fewer cohorts further right)")
        ax.set_ylabel("share of the cohort's users (%)")
        ax.legend(loc="upper right")
    fig.suptitle(
        f"Retention by {grain} since the first visit or purchase\n(mean over cohorts weighted "
        "by size; fully observed periods only; period 0 = 100%, not drawn)"
    )
    return to_png(fig)


# --------------------------------------------------------------------------------------------
# User lifecycle
# --------------------------------------------------------------------------------------------

STATE_COLORS = {"returning": BLUE, "new": GREEN, "resurrecting": ORANGE, "dormant": RED}
ACTIVITY_TITLES = {"active": "Any activity (an event)", "purchasing": "Purchasing (a purchase)"}
absolute_thousands = FuncFormatter(lambda v, _pos: f"{abs(v):,.0f}")


def _week_labels(weeks: pd.Series) -> list[str]:
    dates = pd.to_datetime(weeks)
    step = max(1, int(np.ceil(len(dates) / 26)))
    return [d.strftime("%Y-%m-%d") if i % step == 0 else "" for i, d in enumerate(dates)]


def _shade_weeks(ax, indices, color: str, label: str) -> None:
    """A light band behind each flagged week (bar positions), one legend entry."""
    for n, i in enumerate(indices):
        ax.axvspan(
            i - 0.5,
            i + 0.5,
            color=color,
            alpha=0.2,
            linewidth=0,
            zorder=0,
            label=label if n == 0 else None,
        )


def user_lifecycle(df: pd.DataFrame) -> bytes:
    """Growth accounting: new, returning, resurrecting users stacked up, dormant users down."""
    activities = [a for a in ACTIVITY_TITLES if a in set(df["activity"])]
    fig, axes = _figure(12, 4.2 * len(activities) + 0.6, nrows=len(activities))
    for ax, activity in zip(axes, activities, strict=True):
        d = df[df["activity"] == activity]
        wide = (
            d.pivot_table(
                index="week_start", columns="lifecycle_state", values="users", aggfunc="sum"
            )
            .reindex(columns=list(STATE_COLORS))
            .fillna(0)
            .sort_index()
        )
        flags = d.groupby("week_start").agg(
            first=("is_first_data_week", "max"), complete=("is_week_complete", "min")
        )
        flags = flags.reindex(wide.index)
        x = np.arange(len(wide))
        bottom = np.zeros(len(wide))
        for state in ("returning", "new", "resurrecting"):
            ax.bar(x, wide[state], 0.8, bottom=bottom, color=STATE_COLORS[state], label=state)
            bottom += wide[state].to_numpy()
        ax.bar(x, -wide["dormant"], 0.8, color=RED, label="dormant (drawn below 0)")
        flagged_weeks = (flags["first"] | ~flags["complete"]).to_numpy()
        net = (wide["new"] + wide["resurrecting"] - wide["dormant"]).where(~flagged_weeks)
        ax.plot(x, net, "o-", color="black", markersize=3, linewidth=1, label="net change")
        _shade_weeks(
            ax, np.flatnonzero(flagged_weeks), GREY, "first week of data (all new) or incomplete"
        )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, _week_labels(wide.index.to_series()), rotation=45, ha="right")
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.yaxis.set_major_formatter(absolute_thousands)
        ax.set_title(ACTIVITY_TITLES[activity])
        ax.set_xlabel("week (Monday, UTC)")
        ax.set_ylabel("users in the week (count)")
        ax.grid(axis="x", visible=False)
    handles = {label: h for h, label in zip(*axes[0].get_legend_handles_labels(), strict=True)}
    rank = ["new", "returning", "resurrecting", "dormant", "net", "first"]
    order = sorted(handles, key=lambda label: rank.index(label.split()[0]))
    fig.legend([handles[k] for k in order], order, loc="outside lower center", ncols=6, fontsize=9)
    fig.suptitle("User lifecycle per week: who is new, returning, resurrecting or went dormant")
    return to_png(fig)


# --------------------------------------------------------------------------------------------
# Conversion drivers
# --------------------------------------------------------------------------------------------

OR_AXIS_LIMITS = (0.01, 100.0)  # odds ratios beyond these are drawn at the edge, value in text
_LOG_TICKS = (
    [1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000],
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100],
    [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2],
)


def _log_ticks(low: float, high: float) -> list[float]:
    """Readable ticks on a log axis: the coarsest sequence that gives at least four."""
    ticks: list[float] = []
    for sequence in _LOG_TICKS:
        ticks = [t for t in sequence if low <= t <= high]
        if len(ticks) >= 4:
            return ticks
    return ticks


def driver_forest(df: pd.DataFrame, grains: dict[str, str]) -> bytes:
    """Forest plot of the flagged drivers per step: odds ratio and 95% interval, log scale."""
    steps = [s for s in STEP_TITLES if s in set(df["funnel_step"])]
    counts = [int((df["funnel_step"] == s).sum()) for s in steps]
    fig = plt.figure(figsize=(12, sum(0.34 * n + 1.4 for n in counts) + 0.5), layout="constrained")
    grid = fig.add_gridspec(len(steps), 1, height_ratios=[n + 3 for n in counts])
    lo_edge, hi_edge = OR_AXIS_LIMITS
    for i, step in enumerate(steps):
        ax = fig.add_subplot(grid[i])
        d = df[df["funnel_step"] == step].sort_values("odds_ratio").reset_index(drop=True)
        low = min(1 / 1.25, float(d["odds_ratio_ci_low"].min()) / 1.2)
        high = max(1.25, float(d["odds_ratio_ci_high"].max()) * 1.2)
        low, high = max(low, lo_edge), min(high, hi_edge)
        y = np.arange(len(d))
        for j, r in d.iterrows():
            color = GREEN if r["odds_ratio"] > 1 else RED
            ci_lo, ci_hi = max(r["odds_ratio_ci_low"], low), min(r["odds_ratio_ci_high"], high)
            if ci_lo < ci_hi:  # some of the interval is on the axis
                ax.hlines(j, ci_lo, ci_hi, color=color, linewidth=2)
            if r["odds_ratio_ci_low"] < low:
                ax.plot(low, j, "<", color=color, markersize=6)
            if r["odds_ratio_ci_high"] > high:
                ax.plot(high, j, ">", color=color, markersize=6)
            point = min(max(r["odds_ratio"], low), high)
            ax.plot(
                point,
                j,
                "o" if low <= r["odds_ratio"] <= high else "D",
                color=color,
                markerfacecolor="white" if r["haldane_corrected"] else color,
                markersize=7,
            )
            ax.annotate(
                f"{fmt_odds(r['odds_ratio'])} [{fmt_odds(r['odds_ratio_ci_low'])}, "
                f"{fmt_odds(r['odds_ratio_ci_high'])}]",
                (1.01, j),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=8,
            )
        labels = [
            f"{wrap(f'{r.property} = {r.property_value}', 40)}  "
            f"({r.conversion_rate:.1%} vs {r.rest_conversion_rate:.1%}, n={r.entities:,})"
            for r in d.itertuples()
        ]
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_ylim(-0.7, len(d) - 0.3)
        ax.axvline(1, color=GREY, linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlim(low / 1.15, high * 1.15)  # room for the markers drawn at the edges
        ax.set_xticks(_log_ticks(low, high))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="y", visible=False)
        ax.set_title(
            f"{STEP_TITLES[step]}: flagged drivers ({grains.get(step, '')}); "
            "text: odds ratio [95% interval]"
        )
        ax.set_xlabel(
            "odds ratio of converting with the value vs the rest of its property "
            "(log scale; > 1 goes with converting)"
        )
    fig.suptitle(
        "Conversion drivers: green goes with converting, red goes against it\n(hollow: a zero "
        "cell, Haldane-corrected; diamond or arrow: beyond the axis, see the text)"
    )
    return to_png(fig)


# --------------------------------------------------------------------------------------------
# Funnel paths
# --------------------------------------------------------------------------------------------

NEXT_STEP_COLORS = {
    "view": LIGHT_BLUE,
    "cart": ORANGE,
    "remove_from_cart": PURPLE,
    "purchase": GREEN,
    "session_exit": GREY,
}
NEXT_STEP_LABELS = {
    "view": "a view",
    "cart": "a cart",
    "remove_from_cart": "a remove from cart",
    "purchase": "a purchase",
    "session_exit": "session ends",
}
OUTCOME_COLORS = {
    "later_purchase_same_product": GREEN,
    "later_cart_same_product": ORANGE,
    "returned_other_activity": LIGHT_BLUE,
    "never_returned": GREY,
}
OUTCOME_LABELS = {
    "later_purchase_same_product": "bought it in a later session",
    "later_cart_same_product": "carted it in a later session",
    "returned_other_activity": "came back for other things",
    "never_returned": "never came back",
}
STAGE_WORDS = {
    "view": "a view",
    "cart": "a cart",
    "remove_from_cart": "a remove from cart",
    "purchase": "a purchase",
}
DROP_WORDS = {"view": "viewed, not carted", "cart": "carted, not bought"}


def _share_bars(ax, d: pd.DataFrame, key: str, colors: dict, labels: dict, rows: list[str]):
    """One 100% stacked horizontal bar per row (stage), segments in the order of `colors`."""
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    for k, color in colors.items():
        shares = np.array(
            [d.loc[(d["stage"] == s) & (d[key] == k), "share"].sum() for s in rows], dtype=float
        )
        bars = ax.barh(y, shares, 0.6, left=left, color=color, label=labels[k])
        texts = [f"{v:.0%}" if v >= 0.1 else f"{v:.1%}" if v >= 0.04 else "" for v in shares]
        ax.bar_label(bars, labels=texts, label_type="center", fontsize=8)
        left += shares
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=len(colors), fontsize=9)


def funnel_paths(next_steps: pd.DataFrame, drop_offs: pd.DataFrame) -> bytes:
    """What follows each stage in the session, and what dropped items became later."""
    panels = [p for p in (next_steps, drop_offs) if not p.empty]
    sizes = [p["stage"].nunique() for p in panels]
    fig = plt.figure(figsize=(12, sum(0.55 * n + 2.0 for n in sizes) + 0.4), layout="constrained")
    grid = fig.add_gridspec(len(panels), 1, height_ratios=[n + 2.5 for n in sizes])
    i = 0
    if not next_steps.empty:
        ax = fig.add_subplot(grid[i])
        i += 1
        stages = next_steps.sort_values("stage_order")["stage"].drop_duplicates().tolist()
        totals = next_steps.groupby("stage")["stage_total"].max()
        _share_bars(ax, next_steps, "next_step", NEXT_STEP_COLORS, NEXT_STEP_LABELS, stages)
        ax.set_yticks(
            range(len(stages)),
            [f"after {STAGE_WORDS.get(s, s)}\n(n={int(totals[s]):,} events)" for s in stages],
        )
        ax.set_title("The session's next event after each stage (any product)")
        ax.set_xlabel("share of the stage's events (%)")
    if not drop_offs.empty:
        ax = fig.add_subplot(grid[i])
        stages = drop_offs.sort_values("stage_order")["stage"].drop_duplicates().tolist()
        totals = drop_offs.groupby("stage")["stage_total"].max()
        _share_bars(ax, drop_offs, "path", OUTCOME_COLORS, OUTCOME_LABELS, stages)
        ax.set_yticks(
            range(len(stages)),
            [f"{DROP_WORDS.get(s, s)}\n(n={int(totals[s]):,} items)" for s in stages],
        )
        ax.set_title("Items dropped in their session: what the user did in later sessions")
        ax.set_xlabel("share of the dropped items (%)")
    fig.suptitle("Funnel paths: what shoppers do next")
    return to_png(fig)


# --------------------------------------------------------------------------------------------
# Funnel trends
# --------------------------------------------------------------------------------------------


def funnel_trends(df: pd.DataFrame) -> bytes:
    """Ordered conversion by entry week; weeks not fully observable (or the first) shaded."""
    d = df.sort_values("entry_week").reset_index(drop=True)
    x = np.arange(len(d))
    fig, axes = _figure(12, 9.5, nrows=3, sharex=True)
    partial = np.flatnonzero(~d["is_week_fully_observable"].astype(bool).to_numpy())
    first = np.flatnonzero(d["is_first_week"].astype(bool).to_numpy())
    for ax in axes:
        _shade_weeks(ax, partial, ORANGE, "window still open for some users (censored, left out)")
        _shade_weeks(ax, first, GREY, "first week of data (includes users active before it)")
    for col, label, color in (
        ("view_to_cart_rate", "view → cart", BLUE),
        ("view_to_purchase_rate", "view → purchase", GREEN),
    ):
        axes[0].plot(x, d[col].astype(float), "o-", color=color, markersize=4, label=label)
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("New viewers who went view → cart and view → purchase within the window")
    axes[1].plot(
        x,
        d["cart_to_purchase_rate"].astype(float),
        "o-",
        color=PURPLE,
        markersize=4,
        label="cart → purchase",
    )
    axes[1].margins(y=0.25)
    axes[1].set_title("Of those who carted: cart → purchase within the window (axis not from 0)")
    for ax in axes[:2]:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_ylabel("users converting (%)")
    ax = axes[2]
    ax.bar(x, d["users_observable"], 0.8, color=LIGHT_BLUE, label="observable users")
    ax.bar(
        x,
        d["users_censored"],
        0.8,
        bottom=d["users_observable"],
        color=GREY,
        label="censored users (window still open)",
    )
    ax.set_title("Users entering the funnel (first view) per week")
    ax.set_ylabel("users (count)")
    ax.yaxis.set_major_formatter(thousands)
    ax.set_xticks(x, _week_labels(d["entry_week"]), rotation=45, ha="right")
    ax.set_xlabel("entry week: week of the user's first view (Monday, UTC)")
    legend: dict = {}
    for a in axes:
        a.grid(axis="x", visible=False)
        a.set_xlim(-0.6, len(x) - 0.4)
        for handle, label in zip(*a.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=4, fontsize=9)
    fig.suptitle("Funnel trend: ordered conversion by entry week")
    return to_png(fig)


# --------------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------------


def rfm_segments(df: pd.DataFrame, as_of_date: str) -> bytes:
    """Buyers and revenue to date per RFM segment at one snapshot (red: lapsing segments)."""
    d = df.sort_values("segment_order").reset_index(drop=True)
    y = np.arange(len(d))
    colors = [RED if lapsing else BLUE for lapsing in d["is_lapsing"]]
    fig, axes = _figure(12, max(3.5, 0.42 * len(d) + 1.8), ncols=2, sharey=True)
    panels = [
        ("users", "user_share", "Buyers per segment", "buyers (count)", ",.0f"),
        (
            "revenue",
            "revenue_share",
            "Revenue to date per segment",
            "revenue (price units)",
            ",.0f",
        ),
    ]
    for ax, (col, share, title, xlabel, fmt) in zip(axes, panels, strict=True):
        bars = ax.barh(y, d[col].astype(float), 0.65, color=colors)
        texts = [
            f"{format(v, fmt)} ({s:.1%})" if pd.notna(s) else format(v, fmt)
            for v, s in zip(d[col], d[share], strict=True)
        ]
        _bar_labels(ax, bars, texts, fontsize=8)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_formatter(thousands)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, [wrap(s, 20, humanize=True) for s in d["rfm_segment"]])
    axes[0].set_ylim(len(d) - 0.4, -0.6)
    axes[0].set_ylabel("RFM segment (red: lapsing)")
    fig.suptitle(f"RFM segments at the latest snapshot ({as_of_date}): buyers and revenue")
    return to_png(fig)


def rfm_transitions(df: pd.DataFrame, from_date: str, to_date: str) -> bytes:
    """Heatmap of where each segment's buyers went: row-normalized shares, buyer counts."""
    rows = df.sort_values("from_order")["from_segment"].drop_duplicates().tolist()
    cols = df.sort_values("to_order")["to_segment"].drop_duplicates().tolist()
    share = np.zeros((len(rows), len(cols)))
    users = np.zeros((len(rows), len(cols)), dtype=int)
    for r in df.itertuples():
        i, j = rows.index(r.from_segment), cols.index(r.to_segment)
        share[i, j] = r.share_of_from_segment
        users[i, j] = r.users
    totals = df.groupby("from_segment")["from_segment_users"].max()
    fig, axes = _figure(12, max(4.0, 0.55 * len(rows) + 2.2))
    ax = axes[0]
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if users[i, j]:
                ax.text(
                    j,
                    i,
                    f"{share[i, j]:.0%}\n{users[i, j]:,}"
                    if share[i, j] >= 0.005
                    else f"<1%\n{users[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if share[i, j] > 0.55 else "black",
                )
            if rows[i] == cols[j]:
                ax.add_patch(
                    plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.2)
                )
    ax.set_xticks(range(len(cols)), [wrap(c, 12, humanize=True) for c in cols], fontsize=8)
    ax.set_yticks(
        range(len(rows)),
        [f"{wrap(r, 20, humanize=True)} (n={int(totals[r]):,})" for r in rows],
        fontsize=8,
    )
    ax.grid(False)
    ax.set_xlabel(f"segment at {to_date}")
    ax.set_ylabel(f"segment at {from_date} (new buyer: no purchase yet)")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, format=PercentFormatter(1.0, decimals=0))
    bar.set_label("share of the row's buyers (%)")
    ax.set_title(
        f"RFM segment transitions {from_date} → {to_date} (cell: share of the row, buyers; "
        "framed: stayed)"
    )
    return to_png(fig)
