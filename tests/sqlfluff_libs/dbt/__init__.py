"""Stand-ins for dbt's cross-database macros so sqlfluff's jinja templater can render models.

They render the DuckDB SQL that dbt-duckdb would produce; only lint uses them.
"""


def datediff(first: str, second: str, datepart: str) -> str:
    return f"date_diff('{datepart}', {first}, {second})"


def dateadd(datepart: str, interval: str, from_date_or_timestamp: str) -> str:
    return f"date_add({from_date_or_timestamp}, interval ({interval}) {datepart})"


def split_part(string_text: str, delimiter_text: str, part_number: int) -> str:
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def safe_cast(field: str, type_: str) -> str:
    return f"try_cast({field} as {type_})"


def type_string() -> str:
    return "varchar"


def type_bigint() -> str:
    return "bigint"


def type_boolean() -> str:
    return "boolean"


def type_float() -> str:
    return "double"


def type_timestamp() -> str:
    return "timestamp"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def concat(fields: list[str]) -> str:
    return " || ".join(fields)


def current_timestamp() -> str:
    return "current_timestamp"


def hash(field: str) -> str:  # noqa: A001 - mirrors dbt.hash
    return f"md5(cast({field} as varchar))"


def listagg(measure: str, delimiter_text: str = "','", order_by_clause: str | None = None) -> str:
    order = f" {order_by_clause}" if order_by_clause else ""
    return f"string_agg({measure}, {delimiter_text}{order})"


def generate_series(upper_bound: int) -> str:
    return f"select range + 1 as generated_number from range({upper_bound})"
