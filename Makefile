# Two commands do all the set-up on a fresh machine: `make build` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt

# The embedded default data: ~1 M events over 152 days, written by the project's own generator.
SAMPLE_DIR := data/sample
SAMPLE_ARGS := --rows 1000000 --start 2019-10-01 --days 152 --seed 42

export EVENTS_PATH ?= $(SAMPLE_DIR)/*
export WAREHOUSE_PATH ?= warehouse.duckdb
export PUBLISHED_WAREHOUSE_PATH ?= warehouse.published.duckdb
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install sample build publish export report bench bench-quick test test-spark lint format docs clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Generated into a temporary folder and renamed, so an interrupted run never leaves half a sample.
$(SAMPLE_DIR)/.complete: | $(VENV)/.installed
	rm -rf $(SAMPLE_DIR).tmp
	$(PY) -m warehouse generate $(SAMPLE_ARGS) --out '$(SAMPLE_DIR).tmp/events-{month}.csv.gz'
	touch $(SAMPLE_DIR).tmp/.complete
	rm -rf $(SAMPLE_DIR) && mv $(SAMPLE_DIR).tmp $(SAMPLE_DIR)

sample: $(SAMPLE_DIR)/.complete

# Readers (BI tools, notebooks) open the published copy; it is replaced only after a green build.
build: install sample
	$(DBT) build
	$(PY) -m warehouse publish

publish: install
	$(PY) -m warehouse publish

export: install
	$(PY) -m warehouse export

# Benchmark (results in BENCHMARKS.md): `make bench` is the small run; the full table is
# `make bench BENCH_SIZES=1M,10M,42.4M` on a quiet machine.
# The 10M size is also built on Spark local[2], once, beside DuckDB (report only).
BENCH_SIZES ?= 1M
BENCH_ARGS ?=
bench: $(VENV)/.spark-installed
	$(PY) -m bench --sizes $(BENCH_SIZES) $(BENCH_ARGS)

# About a minute: 100k events, each step once; the report goes to bench/cache/ (git-ignored),
# so it does not replace the committed BENCHMARKS.md.
bench-quick: install
	$(PY) -m bench --sizes 100k --repeats 1 --out bench/cache/BENCHMARKS.quick.md

# reports/findings.html + PNG charts, every number read from the marts.
report: install
	$(PY) -m warehouse report

# Spark: dbt-spark, pyspark and the project's dbt plugin that runs Python models in the session
# (plugins/) go into .venv, and Java 17 when missing (about 3 min on a fresh machine).
SPARK_EXTRAS := 'dbt-spark[session]>=1.11,<1.12' 'pyspark==4.3.*'
$(VENV)/.spark-installed: $(VENV)/.installed plugins/pyproject.toml plugins/dbt_spark_session_python/__init__.py
	command -v java >/dev/null || (apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless)
	$(PY) -m pip install --quiet -r requirements.txt $(SPARK_EXTRAS)
	$(PY) -m pip install --quiet --no-deps ./plugins
	rm -rf plugins/build plugins/*.egg-info
	touch $@

SPARK_TEST_ENV := SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER=local[2] SPARK_PARITY_REQUIRED=1

# Every test, the Spark parity proof included (it builds the same data on DuckDB and on Spark
# local[2] and compares every relation: about 15 min of the run).
test: $(VENV)/.spark-installed lint
	$(SPARK_TEST_ENV) $(PY) -m pytest -q

# The Spark parity proof alone.
test-spark: $(VENV)/.spark-installed
	$(SPARK_TEST_ENV) $(PY) -m pytest -q -m spark tests/test_spark_parity.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint models macros analyses tests/dbt
	$(PY) scripts/generate_feature_docs.py --check

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/sqlfluff fix models analyses tests/dbt

docs: install
	$(DBT) docs generate

clean:
	rm -rf target logs duck_tmp exports reports spark-warehouse $(WAREHOUSE_PATH) $(WAREHOUSE_PATH).wal $(PUBLISHED_WAREHOUSE_PATH)
