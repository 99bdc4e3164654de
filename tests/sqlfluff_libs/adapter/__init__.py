"""Stand-in for dbt's `adapter` so sqlfluff's jinja templater can render dispatched macros.

`adapter.dispatch('name')` resolves to the DuckDB implementation (`duckdb__name`, else
`default__name`), as dbt-duckdb would; only lint uses it.
"""

from jinja2 import pass_context


@pass_context
def dispatch(context, macro_name: str, macro_namespace: str | None = None):
    for prefix in ("duckdb__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise KeyError(f"no duckdb__ or default__ implementation of {macro_name}")


def quote(identifier: str) -> str:
    return f'"{identifier}"'
