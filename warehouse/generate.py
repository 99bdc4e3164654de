"""Generate a synthetic clickstream in the exact public REES46 file format.

The output has the nine REES46 columns (event_time, event_type, product_id, category_id,
category_code, brand, price, user_id, user_session) with the same text conventions as the real
monthly files, and a realistic shape: a fixed product catalogue with heavy-tailed prices and
popularity, users who arrive over the period and churn at individual times with persistent
activity, purchase propensity and spend level, multi-event sessions, purchase funnels that are
usually (not always) view -> cart -> purchase, carts abandoned and bought in a later session,
about 0.15% exact duplicate rows and a few null sessions.

Everything is vectorized (numpy for the simulation, DuckDB for the text formatting) and
deterministic for a seed: the same arguments give byte-identical files. Memory stays bounded: a
session-level plan is drawn up front (a few dozen bytes per session), then events are produced day
by day in time order (chunks of at most about a million events). CSV chunks are formatted by
DuckDB and appended to the output by a writer thread (gzip level 1, one deflate stream per file);
Parquet output goes through temporary Parquet parts joined by one DuckDB COPY per output file.

Example (one command; these are the project's sample settings):
    python -m warehouse generate --rows 1000000 --start 2019-10-01 --days 152 --seed 42
        --out 'data/sample/events-{month}.csv.gz'
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

COLUMNS = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
HEADER = ",".join(COLUMNS)
EVENT_TYPES = ("view", "cart", "remove_from_cart", "purchase")
VIEW, CART, REMOVE, PURCHASE = 0, 1, 2, 3

# Targets (shares of rows) taken from the measured shape of the real data.
EVENTS_PER_USER = 14.0
EVENTS_PER_SESSION = 4.6
PURCHASE_SHARE = 0.0175
CART_SHARE = 0.022
DUPLICATE_SHARE = 0.0015
NULL_SESSION_SHARE = 0.00002
NULL_CODE_SHARE = 0.32
NULL_BRAND_SHARE = 0.14
ZERO_PRICE_SHARE = 0.0015
MEAN_PRICE = 290.0
MAX_PRICE_CENTS = 257_407
MAX_CHUNK_EVENTS = 1_000_000
LIFETIME_DAYS = 40.0  # mean time from a user's arrival to churn

# Item kinds: how a product the user engages with (beyond browsing) shows up in a session.
# Each row: event types in the order of their sort keys; key slots: 0 = early, 1 = after the
# early one, 2 = end of session (purchase), 3 = after the cart (remove).
FULL, CART_FIRST, VIEW_BUY, DIRECT_BUY, ABANDON, ABANDON_REMOVE = range(6)
KIND_EVENTS = np.array(
    [
        [VIEW, CART, PURCHASE],
        [CART, VIEW, PURCHASE],
        [VIEW, PURCHASE, -1],
        [PURCHASE, -1, -1],
        [VIEW, CART, -1],
        [VIEW, CART, REMOVE],
    ],
    dtype=np.int8,
)
KIND_KEYS = np.array(
    [[0, 1, 2], [0, 1, 2], [0, 2, 0], [2, 0, 0], [0, 1, 0], [0, 1, 3]],
    dtype=np.int8,
)
KIND_LEN = (KIND_EVENTS >= 0).sum(axis=1).astype(np.int64)
BUY_KIND_P = np.array([0.85, 0.02, 0.10, 0.03])  # FULL, CART_FIRST, VIEW_BUY, DIRECT_BUY
REMOVE_P = 0.75  # share of abandoned carts that get an explicit remove_from_cart
LATER_BUY_P = 0.6  # chance a purchase session buys the product carted in the previous session

# UTC hour-of-day weights (the shop is in UTC+3: busiest in the local afternoon and evening).
HOUR_WEIGHTS = np.array(
    [0.5, 0.4, 0.6, 1.2, 2.0, 2.8, 3.4, 3.7, 3.9, 4.0, 4.0, 4.0,
     4.1, 4.3, 4.6, 5.0, 5.3, 5.3, 4.8, 3.8, 2.6, 1.6, 0.9, 0.6]
)  # fmt: skip

# Top-level category -> (share of traffic, median price, category codes, well-known brands).
TAXONOMY: dict[str, tuple[float, float, tuple[str, ...], tuple[str, ...]]] = {
    "electronics": (
        0.40,
        190.0,
        (
            "electronics.smartphone",
            "electronics.audio.headphone",
            "electronics.video.tv",
            "electronics.clocks",
            "electronics.tablet",
            "electronics.camera.photo",
            "electronics.audio.subwoofer",
            "electronics.telephone",
            "electronics.video.projector",
            "electronics.camera.video",
            "electronics.audio.acoustic",
        ),
        (
            "samsung",
            "apple",
            "xiaomi",
            "huawei",
            "oppo",
            "vivo",
            "honor",
            "sony",
            "lg",
            "jbl",
            "meizu",
            "nokia",
            "casio",
            "garmin",
            "canon",
            "nikon",
        ),
    ),  # fmt: skip
    "appliances": (
        0.20,
        110.0,
        (
            "appliances.kitchen.refrigerators",
            "appliances.kitchen.washer",
            "appliances.environment.vacuum",
            "appliances.kitchen.kettle",
            "appliances.iron",
            "appliances.personal.hair_cutter",
            "appliances.kitchen.microwave",
            "appliances.environment.air_conditioner",
            "appliances.kitchen.blender",
            "appliances.sewing_machine",
            "appliances.environment.water_heater",
            "appliances.kitchen.hood",
        ),
        (
            "bosch",
            "lg",
            "samsung",
            "indesit",
            "beko",
            "artel",
            "haier",
            "atlant",
            "tefal",
            "redmond",
            "polaris",
            "philips",
            "vitek",
            "elenberg",
            "midea",
            "gorenje",
        ),
    ),  # fmt: skip
    "computers": (
        0.10,
        320.0,
        (
            "computers.notebook",
            "computers.desktop",
            "computers.peripherals.printer",
            "computers.components.videocards",
            "computers.peripherals.mouse",
            "computers.peripherals.monitor",
            "computers.components.cpu",
            "computers.components.hdd",
            "computers.peripherals.keyboard",
        ),
        (
            "acer",
            "lenovo",
            "hp",
            "asus",
            "dell",
            "msi",
            "apple",
            "intel",
            "amd",
            "logitech",
            "gigabyte",
            "kingston",
            "epson",
        ),
    ),  # fmt: skip
    "apparel": (
        0.07,
        35.0,
        (
            "apparel.shoes",
            "apparel.shoes.keds",
            "apparel.shoes.sandals",
            "apparel.costume",
            "apparel.jeans",
            "apparel.shirt",
            "apparel.trousers",
            "apparel.jacket",
        ),
        ("adidas", "nike", "puma", "reebok", "asics", "new-balance", "vans", "converse", "fila"),
    ),  # fmt: skip
    "furniture": (
        0.05,
        90.0,
        (
            "furniture.living_room.sofa",
            "furniture.bedroom.bed",
            "furniture.kitchen.table",
            "furniture.living_room.cabinet",
            "furniture.living_room.chair",
            "furniture.bathroom.bath",
        ),
        ("ikea", "brw", "stolline", "hoff", "askona", "ormatek"),
    ),
    "kids": (
        0.05,
        30.0,
        ("kids.toys", "kids.carriage", "kids.skates", "kids.swing", "kids.dolls"),
        ("lego", "hasbro", "mattel", "chicco", "huggies", "pampers"),
    ),
    "construction": (
        0.04,
        60.0,
        (
            "construction.tools.drill",
            "construction.tools.saw",
            "construction.components.faucet",
            "construction.tools.light",
            "construction.tools.welding",
        ),
        ("makita", "bosch", "dewalt", "metabo", "grohe", "karcher", "stihl"),
    ),
    "sport": (
        0.03,
        80.0,
        ("sport.bicycle", "sport.tennis", "sport.ski", "sport.snowboard", "sport.trainer"),
        ("stern", "forward", "stels", "torneo", "wilson", "atomic"),
    ),
    "auto": (
        0.03,
        50.0,
        (
            "auto.accessories.player",
            "auto.accessories.videoregister",
            "auto.accessories.alarm",
            "auto.accessories.compressor",
        ),
        ("pioneer", "cordiant", "nokian", "michelin", "continental", "neoline", "kenwood"),
    ),
    "accessories": (
        0.02,
        20.0,
        ("accessories.bag", "accessories.wallet", "accessories.umbrella"),
        ("samsonite", "tigernu", "wenger"),
    ),
    "country_yard": (
        0.005,
        120.0,
        ("country_yard.cultivator", "country_yard.lawn_mower"),
        ("huter", "champion"),
    ),
    "medicine": (0.003, 30.0, ("medicine.tools.tonometer",), ("omron", "and")),
    "stationery": (0.002, 10.0, ("stationery.cartrige",), ("hp", "canon")),
}

SYLLABLES = np.array(
    ["ka", "ro", "ve", "ti", "lan", "mar", "zen", "po", "lux", "ar", "del", "mi", "no", "sa",
     "tek", "vi", "or", "bel", "ra", "ton", "ex", "fi", "gor", "in", "ja", "ko", "le", "mo", "nu",
     "pa", "ri", "su", "ta", "ul", "vo", "we", "xo", "yu", "za", "tro"]
)  # fmt: skip

SMARTPHONE_CATEGORY_ID = 2053013555631882655


@dataclass
class Catalogue:
    product_id: np.ndarray  # int64, products sorted by category
    product_cat: np.ndarray  # int64 category index
    product_brand: np.ndarray  # int64 brand index, -1 = null
    product_price: np.ndarray  # int64 cents
    product_cum: np.ndarray  # float64 cumulative popularity (sums to 1)
    cat_id: np.ndarray  # int64 19-digit ids
    cat_code: np.ndarray  # int64 index into code_names, -1 = null
    cat_cum: np.ndarray  # float64 cumulative category popularity
    cat_lo: np.ndarray  # product_cum range of each category
    cat_hi: np.ndarray
    cat_first: np.ndarray  # first / last product index of each category
    cat_last: np.ndarray
    cat_price: np.ndarray  # popularity-weighted mean price per category (cents)
    code_names: list[str]
    brand_names: list[str]

    def sample_global(self, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.product_cum, u, side="right")
        return np.minimum(idx, len(self.product_id) - 1)

    def sample_in_category(self, cats: np.ndarray, u: np.ndarray) -> np.ndarray:
        lo, hi = self.cat_lo[cats], self.cat_hi[cats]
        idx = np.searchsorted(self.product_cum, lo + u * (hi - lo), side="right")
        return np.clip(idx, self.cat_first[cats], self.cat_last[cats])

    def sample_category(self, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.cat_cum, u, side="right")
        return np.minimum(idx, len(self.cat_id) - 1)


def _unique_ints(rng: np.random.Generator, low: int, high: int, n: int) -> np.ndarray:
    """n distinct random integers in [low, high), in random order (deterministic for rng)."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = rng.integers(low, high, size=int((n - len(out)) * 1.05) + 16, dtype=np.int64)
        merged = np.concatenate([out, draw])
        _, first = np.unique(merged, return_index=True)
        out = merged[np.sort(first)]
    return out[:n]


def _pick_by_share(order: np.ndarray, share: np.ndarray, target: float) -> np.ndarray:
    """Boolean mask: walk `order` and take items while the running share stays within target."""
    running = np.cumsum(share[order])
    take = order[running <= target]
    mask = np.zeros(len(share), dtype=bool)
    mask[take] = True
    return mask


def build_catalogue(rows: int, rng: np.random.Generator) -> Catalogue:
    n_products = int(np.clip(round(25 * np.sqrt(rows)), 300, 250_000))
    n_cats = int(np.clip(round(n_products / 40), 40, 650))

    tops = list(TAXONOMY)
    top_share = np.array([TAXONOMY[t][0] for t in tops])
    top_share = top_share / top_share.sum()
    # Every top level gets at least one category; the rest follow traffic shares.
    cat_top = np.concatenate(
        [np.arange(len(tops)), rng.choice(len(tops), n_cats - len(tops), p=top_share)]
    )
    cat_weight = (
        rng.lognormal(0.0, 1.3, n_cats)
        * top_share[cat_top]
        / np.bincount(cat_top, minlength=len(tops))[cat_top].clip(1)
    )
    # The most popular category is the smartphone one, as in the real data.
    top_cat = int(np.argmax(np.where(cat_top == 0, cat_weight, -1)))
    cat_weight[top_cat] = cat_weight.sum() * 0.25
    cat_weight = cat_weight / cat_weight.sum()

    code_names = [code for t in tops for code in TAXONOMY[t][2]]
    code_top = np.array([i for i, t in enumerate(tops) for _ in TAXONOMY[t][2]])
    code_start = np.searchsorted(code_top, np.arange(len(tops)))
    code_count = np.bincount(code_top, minlength=len(tops))
    cat_code = code_start[cat_top] + (rng.random(n_cats) * code_count[cat_top]).astype(np.int64)
    cat_code[top_cat] = code_names.index("electronics.smartphone")
    # Some categories have no code at all: about 32% of the traffic.
    order = rng.permutation(np.setdiff1d(np.arange(n_cats), [top_cat]))
    cat_code[_pick_by_share(order, cat_weight, NULL_CODE_SHARE)] = -1

    cat_id = _unique_ints(rng, 2_053_013_552_000_000_000, 2_240_000_000_000_000_000, n_cats)
    cat_id[top_cat] = SMARTPHONE_CATEGORY_ID
    if np.count_nonzero(cat_id == SMARTPHONE_CATEGORY_ID) > 1:  # pragma: no cover - 1 in 1e17
        raise RuntimeError("category id collision")

    # Products: more products in popular categories, at least one each.
    extra = rng.choice(n_cats, n_products - n_cats, p=cat_weight**0.6 / (cat_weight**0.6).sum())
    product_cat = np.sort(np.concatenate([np.arange(n_cats), extra]))
    within = rng.lognormal(0.0, 1.4, n_products)
    cat_total = np.bincount(product_cat, weights=within, minlength=n_cats)
    weight = cat_weight[product_cat] * within / cat_total[product_cat]
    weight = weight / weight.sum()
    product_cum = np.cumsum(weight)
    product_cum[-1] = 1.0
    cat_first = np.searchsorted(product_cat, np.arange(n_cats))
    cat_last = np.searchsorted(product_cat, np.arange(n_cats), side="right") - 1
    cat_lo = np.concatenate([[0.0], product_cum])[cat_first]
    cat_hi = product_cum[cat_last]

    # Prices: log-normal around the top level's median, calibrated to the traffic-weighted mean.
    top_median = np.array([TAXONOMY[t][1] for t in tops])
    log_price = (
        np.log(top_median[cat_top])[product_cat]
        + rng.normal(0.0, 0.6, n_cats)[product_cat]
        + rng.normal(0.0, 0.7, n_products)
    )
    scale = 1.0
    for _ in range(6):
        price = np.clip(np.exp(log_price) * scale, 0.5, MAX_PRICE_CENTS / 100)
        scale *= MEAN_PRICE / float(np.dot(price, weight))
    cents = np.round(price * 100).astype(np.int64)
    top_product = int(np.argmax(weight))
    order = rng.permutation(np.setdiff1d(np.arange(n_products), [top_product]))
    small = order[weight[order] < ZERO_PRICE_SHARE / 20]
    cents[_pick_by_share(small, weight, ZERO_PRICE_SHARE)] = 0

    # Brands: the top level's well-known brands for popular products plus a long tail.
    known = sorted({b for t in tops for b in TAXONOMY[t][3]})
    n_tail = max(20, n_products // 40)
    parts = rng.integers(0, len(SYLLABLES), size=(n_tail * 2, 3))
    n_syl = rng.integers(2, 4, size=n_tail * 2)
    tail = np.char.add(SYLLABLES[parts[:, 0]], SYLLABLES[parts[:, 1]])
    tail = np.where(n_syl == 3, np.char.add(tail, SYLLABLES[parts[:, 2]]), tail)
    tail_list = [str(t) for t in dict.fromkeys(tail.tolist()) if t not in set(known)][:n_tail]
    brand_names = known + tail_list
    top_brands = [np.array([known.index(b) for b in TAXONOMY[t][3]]) for t in tops]
    n_top_brands = np.array([len(b) for b in top_brands])
    top_brand_table = np.full((len(tops), n_top_brands.max()), -1, dtype=np.int64)
    for i, b in enumerate(top_brands):
        top_brand_table[i, : len(b)] = b
    product_top = cat_top[product_cat]
    zipf_pick = np.minimum(
        (rng.pareto(1.2, n_products)).astype(np.int64), n_top_brands[product_top] - 1
    )
    known_brand = top_brand_table[product_top, zipf_pick]
    tail_brand = len(known) + (rng.random(n_products) ** 2.5 * len(tail_list)).astype(np.int64)
    popular = weight > np.quantile(weight, 0.6)
    use_known = rng.random(n_products) < np.where(popular, 0.85, 0.35)
    product_brand = np.where(use_known, known_brand, tail_brand)
    order = rng.permutation(np.setdiff1d(np.arange(n_products), [top_product]))
    product_brand[_pick_by_share(order, weight, NULL_BRAND_SHARE)] = -1

    product_id = _unique_ints(rng, 1_000_000, 60_000_000, n_products)
    cat_price = np.bincount(product_cat, weights=cents * weight, minlength=n_cats) / np.bincount(
        product_cat, weights=weight, minlength=n_cats
    )
    return Catalogue(
        product_id=product_id,
        product_cat=product_cat,
        product_brand=product_brand,
        product_price=cents,
        product_cum=product_cum,
        cat_id=cat_id,
        cat_code=cat_code,
        cat_cum=np.cumsum(cat_weight),
        cat_lo=cat_lo,
        cat_hi=cat_hi,
        cat_first=cat_first,
        cat_last=cat_last,
        cat_price=cat_price,
        code_names=code_names,
        brand_names=brand_names,
    )


@dataclass
class Plan:
    """Session-level plan, sessions sorted by start time; items grouped by session."""

    start: np.ndarray  # int64 epoch seconds
    user_id: np.ndarray  # int64 public user id of the session's user
    category: np.ndarray  # int64 browsing category
    browse: np.ndarray  # int64 number of browsing views
    n_events: np.ndarray  # int64 events before duplication
    dups: np.ndarray  # int64 duplicated rows to add
    null_session: np.ndarray  # bool: first event has a null user_session
    uuid_hi: np.ndarray  # uint64
    uuid_lo: np.ndarray  # uint64
    item_offset: np.ndarray  # int64, len = sessions + 1
    item_kind: np.ndarray  # int8
    item_product: np.ndarray  # int64 product index


def _calibrate(weight: np.ndarray, cap: float, multiplier: np.ndarray, target: float) -> float:
    """Find base such that sum(min(cap, base * weight) * multiplier) ~= target (bisection)."""
    lo, hi = 0.0, 1.0
    while hi < 1e9 and float(np.dot(np.minimum(cap, hi * weight), multiplier)) < target:
        hi *= 4.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if float(np.dot(np.minimum(cap, mid * weight), multiplier)) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def build_plan(
    rows: int, start_ts: int, days: int, cat: Catalogue, rng: np.random.Generator
) -> Plan:
    n_dups = int(round(rows * DUPLICATE_SHARE))
    n_base = rows - n_dups
    n_users = max(1, int(round(rows / EVENTS_PER_USER)))
    n_sessions_target = max(n_users, n_base / EVENTS_PER_SESSION)
    period = float(days)

    # Users: arrival, churn, persistent traits (activity, purchase propensity, spend level).
    z_act = np.clip(rng.standard_normal(n_users), -4.0, 3.5)
    z_buy = rng.standard_normal(n_users)
    z_spend = rng.standard_normal(n_users)
    activity = np.exp(1.3 * z_act)
    # Stationary population: customers alive at the start (their share is mean lifetime /
    # (mean lifetime + period)) plus newcomers arriving uniformly; each churns after an
    # exponential lifetime (longer for more active users).
    lifetime = rng.exponential(LIFETIME_DAYS, n_users) * np.exp(0.5 * z_act - 0.125)
    existing = rng.random(n_users) < LIFETIME_DAYS / (LIFETIME_DAYS + period)
    arrive = np.where(existing, 0.0, rng.random(n_users) * period)
    active = np.minimum(arrive + lifetime, period) - arrive
    scale = (n_sessions_target - n_users) / max(float(np.dot(activity, active)), 1e-9)
    n_extra = rng.poisson(activity * active * scale)
    # Newcomers are first seen when they arrive. Existing customers are seen at a random time
    # of their remaining active life, or (one-visit customers, whose lifetime is unobservable)
    # at any time of the period, which keeps daily traffic flat from the first day.
    first_seen = np.where(
        existing, rng.random(n_users) * np.where(n_extra > 0, active, period), arrive
    )
    buyer = rng.random(n_users) < 0.35 + 0.1 * np.tanh(z_act)
    buy_weight = np.where(buyer, np.exp(0.8 * z_buy), 0.02)
    spend = 1.0 / (1.0 + np.exp(-1.7 * (0.5 * z_buy + 0.85 * z_spend)))
    # Favourite category: among three popular candidates, spenders lean to expensive ones.
    fav_cand = cat.sample_category(rng.random((n_users, 3)))
    fav_rank = np.argsort(np.argsort(cat.cat_price[fav_cand], axis=1), axis=1)
    fav_pick = np.clip((spend * 3 + rng.normal(0, 0.5, n_users)).astype(np.int64), 0, 2)
    favourite = fav_cand[np.arange(n_users), np.argmax(fav_rank == fav_pick[:, None], axis=1)]
    # Public user ids: 9 digits, increasing with arrival (older customers have smaller ids).
    user_ids = np.sort(_unique_ints(rng, 150_000_000, 600_000_000, n_users))[
        np.argsort(np.argsort(first_seen, kind="stable"), kind="stable")
    ]
    del z_act, z_buy, z_spend, existing, lifetime

    # Sessions, grouped by user and in time order within each user.
    per_user = 1 + n_extra
    s_user = np.repeat(np.arange(n_users), per_user)
    first = np.cumsum(per_user) - per_user
    day_f = np.repeat(arrive, per_user) + rng.random(len(s_user)) * np.repeat(active, per_user)
    day_f[first] = first_seen
    del first_seen
    day = np.clip(day_f.astype(np.int64), 0, days - 1)
    del day_f
    hour_cum = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
    hour = np.searchsorted(hour_cum, rng.random(len(s_user)), side="right")
    start = start_ts + day * 86_400 + hour * 3600 + rng.integers(0, 3600, len(s_user))
    del day, hour
    order = np.lexsort((start, s_user))
    s_user, start = s_user[order], start[order]
    del order
    n_sessions = len(s_user)
    prev_same_user = np.ones(n_sessions, dtype=bool)
    prev_same_user[first] = False

    category = np.where(
        rng.random(n_sessions) < 0.55,
        favourite[s_user],
        cat.sample_category(rng.random(n_sessions)),
    )

    # Purchases and abandoned carts per session.
    w_buy = buy_weight[s_user]
    s_spend = spend[s_user]
    items_per_buy = 1.0 + 0.15 + 0.35 * s_spend
    base = _calibrate(w_buy, 0.6, items_per_buy, PURCHASE_SHARE * n_base)
    n_buy = np.where(
        rng.random(n_sessions) < np.minimum(0.6, base * w_buy),
        1 + rng.poisson(0.15 + 0.35 * s_spend),
        0,
    )
    n_buy = np.minimum(n_buy, 6)
    cart_from_buys = float(n_buy.sum()) * (BUY_KIND_P[0] + BUY_KIND_P[1])
    ab_target = max(0.0, CART_SHARE * n_base - cart_from_buys) / 1.2
    w_ab = 0.3 + w_buy / max(float(w_buy.mean()), 1e-9)
    base = _calibrate(w_ab, 0.5, np.ones(n_sessions), ab_target)
    n_ab = np.where(
        rng.random(n_sessions) < np.minimum(0.5, base * w_ab), 1 + rng.poisson(0.2, n_sessions), 0
    )
    del w_buy, w_ab

    n_items = n_buy + n_ab
    item_sess = np.repeat(np.arange(n_sessions), n_items)
    item_first = np.cumsum(n_items) - n_items
    item_pos = np.arange(len(item_sess)) - item_first[item_sess]
    is_buy = item_pos < n_buy[item_sess]
    item_kind = np.where(
        is_buy,
        np.searchsorted(np.cumsum(BUY_KIND_P), rng.random(len(item_sess)) * BUY_KIND_P.sum()),
        np.where(rng.random(len(item_sess)) < REMOVE_P, ABANDON_REMOVE, ABANDON),
    ).astype(np.int8)
    del item_pos
    # Item products: three candidates from the session's category, chosen by spend level.
    cands = cat.sample_in_category(
        np.repeat(category[item_sess], 3).reshape(-1, 3), rng.random((len(item_sess), 3))
    )
    cand_rank = np.argsort(np.argsort(cat.product_price[cands], axis=1, kind="stable"), axis=1)
    want = np.clip(
        (s_spend[item_sess] * 3 + rng.normal(0, 0.4, len(item_sess))).astype(np.int64), 0, 2
    )
    item_product = cands[np.arange(len(item_sess)), np.argmax(cand_rank == want[:, None], axis=1)]
    del cands, cand_rank, want
    # A cart abandoned in the previous session is often bought in this one (days later).
    first_ab = np.full(n_sessions, -1, dtype=np.int64)
    has_ab = n_ab > 0
    first_ab[has_ab] = item_product[item_first[has_ab] + n_buy[has_ab]]
    prev_ab = np.full(n_sessions, -1, dtype=np.int64)
    prev_ab[1:] = np.where(prev_same_user[1:], first_ab[:-1], -1)
    later = (n_buy > 0) & (prev_ab >= 0) & (rng.random(n_sessions) < LATER_BUY_P)
    item_product[item_first[later]] = prev_ab[later]
    del first_ab, prev_ab, later, has_ab, is_buy

    # Browsing views: heavy-tailed session lengths, then exact total.
    item_events = np.bincount(item_sess, weights=KIND_LEN[item_kind], minlength=n_sessions)
    item_events = item_events.astype(np.int64)
    mean_extra = max(0.0, (n_base - float(item_events.sum())) / n_sessions - 1.0)
    r = 0.8
    browse = 1 + (
        rng.negative_binomial(r, r / (r + mean_extra), n_sessions) if mean_extra > 0 else 0
    )
    browse = np.minimum(browse, 400).astype(np.int64)
    diff = n_base - int(browse.sum() + item_events.sum())
    if diff > 0:
        browse += rng.multinomial(diff, browse / browse.sum())
    elif diff < 0:
        spare = browse - 1
        take = min(-diff, int(spare.sum()))
        if take:
            browse -= rng.multivariate_hypergeometric(spare, take, method="marginals")
    n_events = browse + item_events

    dup_sess = rng.choice(n_sessions, n_dups, p=n_events / n_events.sum()) if n_dups else []
    dups = np.bincount(np.asarray(dup_sess, dtype=np.int64), minlength=n_sessions)
    n_null = min(n_sessions, max(1, int(round(rows * NULL_SESSION_SHARE))))
    null_session = np.zeros(n_sessions, dtype=bool)
    null_session[rng.choice(n_sessions, n_null, replace=False)] = True

    # Re-order sessions by start time (stable: ties keep user order).
    order = np.argsort(start, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_sessions)
    item_order = np.argsort(rank[item_sess], kind="stable")
    counts = n_items[order]
    item_offset = np.concatenate([[0], np.cumsum(counts)])
    hi = rng.integers(0, 2**64 - 1, n_sessions, dtype=np.uint64, endpoint=True)
    lo = rng.integers(0, 2**64 - 1, n_sessions, dtype=np.uint64, endpoint=True)
    hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)  # UUID version 4
    lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)  # RFC variant
    return Plan(
        start=start[order],
        user_id=user_ids[s_user[order]],
        category=category[order],
        browse=browse[order],
        n_events=n_events[order],
        dups=dups[order],
        null_session=null_session[order],
        uuid_hi=hi,
        uuid_lo=lo,
        item_offset=item_offset,
        item_kind=item_kind[item_order],
        item_product=item_product[item_order],
    )


def _session_events(
    plan: Plan, cat: Catalogue, a: int, b: int, last_ts: int | None, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Events of sessions [a, b), in session order, duplicates included (numeric columns)."""
    ns = b - a
    browse = plan.browse[a:b]
    n_ev = plan.n_events[a:b]
    ia, ib = int(plan.item_offset[a]), int(plan.item_offset[b])
    kinds = plan.item_kind[ia:ib]
    n_items = np.diff(plan.item_offset[a : b + 1])

    # Browsing views: mostly the session's category, sometimes anything popular.
    bs = np.repeat(np.arange(ns), browse)
    u = rng.random(len(bs))
    in_cat = rng.random(len(bs)) < 0.8
    b_prod = np.where(
        in_cat, cat.sample_in_category(plan.category[a:b][bs], u), cat.sample_global(u)
    )
    b_key = rng.random(len(bs))

    # Item events expanded from their kind's template.
    lens = KIND_LEN[kinds]
    it = np.repeat(np.arange(len(kinds)), lens)
    j = np.arange(len(it)) - np.repeat(np.cumsum(lens) - lens, lens)
    k_early = rng.random(len(kinds)) * 0.6
    k_after = k_early + rng.random(len(kinds)) * (0.9 - k_early)
    k_end = 0.9 + rng.random(len(kinds)) * 0.1
    k_remove = k_after + rng.random(len(kinds)) * (1.0 - k_after)
    keys = np.stack([k_early, k_after, k_end, k_remove], axis=1)
    i_kind = kinds[it]
    i_type = KIND_EVENTS[i_kind, j]
    i_key = keys[it, KIND_KEYS[i_kind, j]]
    i_sess = np.repeat(np.arange(ns), n_items)[it]
    i_prod = plan.item_product[ia:ib][it]

    sess = np.concatenate([bs, i_sess])
    order = np.lexsort((np.concatenate([b_key, i_key]), sess))
    sess = sess[order]
    etype = np.concatenate([np.zeros(len(bs), dtype=np.int8), i_type])[order]
    prod = np.concatenate([b_prod, i_prod])[order]
    del order, bs, b_key, b_prod, i_sess, i_key, i_prod, keys

    # Times: a few seconds to minutes between consecutive events of a session.
    offsets = np.cumsum(n_ev) - n_ev
    gaps = np.clip(np.round(rng.lognormal(np.log(30.0), 1.0, len(sess))), 1, 1200).astype(np.int64)
    gaps[offsets] = 0
    csum = np.cumsum(gaps)
    t = plan.start[a:b][sess] + csum - np.repeat(csum[offsets], n_ev)
    if last_ts is not None:  # last day: pull sessions back so that nothing spills past the end
        shift = np.maximum(0, t[offsets + n_ev - 1] - last_ts)
        t = np.maximum(t - np.repeat(shift, n_ev), plan.start[a])
    null = np.zeros(len(sess), dtype=bool)
    null[offsets[plan.null_session[a:b]]] = True

    # Exact duplicate rows, right after their original.
    dups = plan.dups[a:b]
    dup_s = np.repeat(np.arange(ns), dups)
    dup_pos = offsets[dup_s] + (rng.random(len(dup_s)) * n_ev[dup_s]).astype(np.int64)
    idx = np.sort(np.concatenate([np.arange(len(sess)), dup_pos]))
    sess_g = sess[idx] + a
    prod = prod[idx]
    return {
        "t": t[idx],
        "etype": etype[idx],
        "product_id": cat.product_id[prod],
        "category": cat.product_cat[prod],
        "brand": cat.product_brand[prod],
        "price": cat.product_price[prod],
        "user_id": plan.user_id[sess_g],
        "hi": plan.uuid_hi[sess_g],
        "lo": plan.uuid_lo[sess_g],
        "null": null[idx],
    }


def _take(cols: dict[str, np.ndarray], sel: np.ndarray | slice) -> dict[str, np.ndarray]:
    return {k: v[sel] for k, v in cols.items()}


def _frame(cols: dict[str, np.ndarray], cat: Catalogue) -> pd.DataFrame:
    """Numeric event columns -> DataFrame (strings as categoricals: no per-row Python objects)."""
    cats = cols["category"]
    return pd.DataFrame(
        {
            "t": cols["t"],
            "event_type": pd.Categorical.from_codes(cols["etype"], categories=EVENT_TYPES),
            "product_id": cols["product_id"],
            "category_id": cat.cat_id[cats],
            "category_code": pd.Categorical.from_codes(
                cat.cat_code[cats], categories=cat.code_names
            ),
            "brand": pd.Categorical.from_codes(cols["brand"], categories=cat.brand_names),
            "price": cols["price"],
            "user_id": cols["user_id"],
            "hi": cols["hi"],
            "lo": cols["lo"],
            "null_session": cols["null"],
        }
    )


# Numeric columns -> the exact REES46 text of each field (NULL for an empty field).
FORMAT_SQL = """
SELECT
    strftime(make_timestamp(t * 1000000), '%Y-%m-%d %H:%M:%S UTC') AS event_time,
    event_type::VARCHAR AS event_type,
    product_id::VARCHAR AS product_id,
    category_id::VARCHAR AS category_id,
    category_code::VARCHAR AS category_code,
    brand::VARCHAR AS brand,
    (price // 100)::VARCHAR || '.' || lpad((price % 100)::VARCHAR, 2, '0') AS price,
    user_id::VARCHAR AS user_id,
    CASE WHEN NOT null_session THEN format(
        '{{:08x}}-{{:04x}}-{{:04x}}-{{:04x}}-{{:012x}}',
        hi >> 32, (hi >> 16) & 65535, hi & 65535, lo >> 48, lo & 281474976710655
    ) END AS user_session
FROM {source}
"""
CSV_OPTIONS = "FORMAT csv, HEADER false, DELIMITER ',', QUOTE '', ESCAPE '', NEW_LINE '\\n'"
GZIP_LEVEL = 1  # fast: the 42M-row month compresses at ~150 MB/s on one core


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _output_kind(out: str) -> str:
    lower = out.lower()
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if lower.endswith(suffix):
            return suffix
    raise ValueError(f"--out must end in .csv, .csv.gz or .parquet, got {out!r}")


def _period_path(out: str, day: dt.date) -> Path:
    return Path(out.replace("{month}", day.strftime("%Y-%m")).replace("{date}", day.isoformat()))


class _CsvSink:
    """One output CSV (optionally gzip, one deflate stream); fed with header-less CSV chunks.

    Only the writer thread touches it, so chunks land in submission order.
    """

    def __init__(self, path: Path, gz: bool) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self.z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gz else None
        self._write((HEADER + "\n").encode())

    def _write(self, data: bytes) -> None:
        self.fh.write(self.z.compress(data) if self.z else data)

    def add_file(self, chunk: Path) -> None:
        with open(chunk, "rb") as fh:
            while block := fh.read(1 << 24):
                self._write(block)
        chunk.unlink()

    def close(self) -> None:
        if self.z:
            self.fh.write(self.z.flush())
        self.fh.close()
        self.tmp.replace(self.path)


def generate(
    rows: int,
    start: str | dt.date,
    days: int,
    seed: int,
    out: str | Path,
    progress: bool = True,
) -> list[Path]:
    """Write `rows` REES46-format events over `days` days from `start` (UTC) to `out`.

    `out` ends in .csv, .csv.gz or .parquet; a `{month}` (YYYY-MM) or `{date}` (YYYY-MM-DD)
    placeholder writes one file per month or day. Parent directories are created. Returns the
    written paths in time order. Progress lines go to stderr unless progress is False.
    """
    if rows < 1:
        raise ValueError("rows must be >= 1")
    if days < 1:
        raise ValueError("days must be >= 1")
    out = str(out)
    kind = _output_kind(out)
    start_date = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    start_ts = int(dt.datetime.combine(start_date, dt.time(), dt.UTC).timestamp())
    clock = time.monotonic()

    def say(message: str) -> None:
        if progress:
            print(f"[generate {time.monotonic() - clock:7.1f}s] {message}", file=sys.stderr)

    cat_rng, plan_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    cat = build_catalogue(rows, cat_rng)
    plan = build_plan(rows, start_ts, days, cat, plan_rng)
    if progress:
        say(
            f"plan: {rows:,} rows, {len(np.unique(plan.user_id)):,} users, "
            f"{len(plan.start):,} sessions, {len(cat.product_id):,} products over {days} days"
        )

    paths = [_period_path(out, start_date + dt.timedelta(days=d)) for d in range(days)]
    for p in dict.fromkeys(paths):
        p.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".generate-", dir=paths[0].parent))
    con = duckdb.connect()
    pool = ThreadPoolExecutor(max_workers=1)  # compresses and appends CSV chunks in order
    pending: list[Future] = []
    sink: _CsvSink | None = None
    parquet_parts: dict[Path, list[Path]] = {}
    result: list[Path] = []

    def submit(fn, *args) -> None:
        pending.append(pool.submit(fn, *args))
        while len(pending) > 2:  # bound the memory held by queued chunks
            pending.pop(0).result()

    try:
        con.execute("SET preserve_insertion_order = true")
        day_bounds = np.searchsorted(plan.start, start_ts + 86_400 * np.arange(days + 1))
        ev_cum = np.concatenate([[0], np.cumsum(plan.n_events + plan.dups)])
        carry: dict[str, np.ndarray] | None = None
        written, chunk_no = 0, 0
        every = max(1, days // 10)
        for d in range(days):
            a, b = int(day_bounds[d]), int(day_bounds[d + 1]) if d + 1 < days else len(plan.start)
            day_end = start_ts + 86_400 * (d + 1)
            last_day = d == days - 1
            # Split a busy day into chunks of at most about MAX_CHUNK_EVENTS events.
            limits = np.arange(ev_cum[a], ev_cum[b], MAX_CHUNK_EVENTS)[1:]
            cuts = np.searchsorted(ev_cum, limits, side="right") - 1
            bounds = [a, *sorted({int(c) for c in cuts} - {a, b}), b]
            for ca, cb in zip(bounds[:-1], bounds[1:], strict=True):
                rng = np.random.default_rng([seed, 2, chunk_no])
                cols = _session_events(plan, cat, ca, cb, day_end - 1 if last_day else None, rng)
                if carry is not None:
                    cols = {k: np.concatenate([carry[k], cols[k]]) for k in cols}
                cols = _take(cols, np.argsort(cols["t"], kind="stable"))
                # Later chunks only hold events at or after `boundary`: write what is before it.
                boundary = int(plan.start[cb]) if cb < b else day_end
                cut = (
                    len(cols["t"])
                    if last_day and cb == b
                    else int(np.searchsorted(cols["t"], boundary))
                )
                carry = _take(cols, slice(cut, None))
                chunk_no += 1
                if not cut:
                    continue
                frame = _frame(_take(cols, slice(0, cut)), cat)
                del cols
                path = paths[d]
                part = tmp / f"part-{chunk_no:06d}"
                con.register("chunk_frame", frame)
                try:
                    if kind == ".parquet":
                        con.execute(
                            f"COPY chunk_frame TO '{_sql_path(part)}.parquet' "
                            "(FORMAT parquet, COMPRESSION snappy)"
                        )
                        parquet_parts.setdefault(path, []).append(Path(f"{part}.parquet"))
                    else:
                        sql = FORMAT_SQL.format(source="chunk_frame")
                        con.execute(f"COPY ({sql}) TO '{_sql_path(part)}.csv' ({CSV_OPTIONS})")
                        if sink is None or sink.path != path:
                            if sink is not None:
                                submit(sink.close)
                                result.append(sink.path)
                            sink = _CsvSink(path, gz=kind == ".csv.gz")
                        submit(sink.add_file, Path(f"{part}.csv"))
                finally:
                    con.unregister("chunk_frame")
                del frame
                written += cut
            if (d + 1) % every == 0 or last_day:
                say(f"day {d + 1}/{days}: {written:,} rows")
        if carry is not None and len(carry["t"]):
            raise RuntimeError("internal error: events left after the last day")
        if sink is not None:
            submit(sink.close)
            result.append(sink.path)
        while pending:
            pending.pop(0).result()

        for path, files in parquet_parts.items():
            sources = ", ".join(f"'{_sql_path(f)}'" for f in files)
            target = path.with_name(path.name + ".tmp")
            sql = FORMAT_SQL.format(source=f"read_parquet([{sources}])")
            con.execute(f"COPY ({sql}) TO '{_sql_path(target)}' (FORMAT parquet, COMPRESSION zstd)")
            target.replace(path)
            result.append(path)
            for f in files:
                f.unlink()
        say(f"done: {written:,} rows in {len(result)} file(s)")
        return result
    finally:
        pool.shutdown(wait=True)
        if sink is not None and not sink.fh.closed:
            sink.fh.close()
            sink.tmp.unlink(missing_ok=True)
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to write (default 1M)")
    parser.add_argument("--start", default="2019-10-01", help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--days", type=int, default=152, help="number of days (default 152)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--out",
        default="data/sample/events-{month}.csv.gz",
        help="output path ending in .csv, .csv.gz or .parquet; {month} or {date} splits files",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def main(args: argparse.Namespace) -> int:
    paths = generate(
        rows=args.rows,
        start=args.start,
        days=args.days,
        seed=args.seed,
        out=args.out,
        progress=not args.quiet,
    )
    for path in paths:
        print(path)
    return 0
