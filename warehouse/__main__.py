"""Command line entry point: `python -m warehouse <subcommand> [options]`.

Each subcommand is a module in this package exposing `add_arguments(parser)` and `main(args)`.
Adding one is a single line in SUBCOMMANDS (name -> module name; modules are imported when the
parser is built).
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, str] = {
    "generate": "warehouse.generate",
    "publish": "warehouse.publish",
    "export": "warehouse.export",
    "report": "warehouse.report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or name).strip().splitlines()[0]
        sub_parser = sub.add_parser(
            name,
            help=doc,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args._main(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
