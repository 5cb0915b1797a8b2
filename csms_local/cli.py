"""The ``csms`` command line.

Each sub-command lives in its own module ``csms_local/cmd_<name>.py`` exposing
``register(subparsers)``; the module adds its parser and sets ``func`` to a
callable ``func(args) -> int`` (the exit code). Errors the user can fix are
raised as :class:`UsageError` and printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys

COMMAND_MODULES = ("cmd_local", "cmd_charger", "cmd_demo", "cmd_backtest", "cmd_cost", "cmd_signals", "cmd_api",
                   "cmd_firmware", "cmd_idtag", "cmd_connectors", "cmd_onboarding", "cmd_site", "cmd_console")


class UsageError(Exception):
    """A bad argument or input file: printed as one line, exit code 2."""


def number(text: str) -> float:
    """argparse type of every decimal option: a finite number. ``float`` alone reads ``nan`` and
    ``inf``, which then met the API's range checks ("--cap-kw should be <= 1000000" for ``nan``)
    or none. Refused: ``argument --cap-kw: invalid number value: 'nan'`` (raises ValueError)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="csms", description="Smart EV-charging platform (OCPP 1.6J central system)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"csms_local.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at interpreter exit
        return code
    except BrokenPipeError:  # `csms ... | head`: the reader stopped; quiet, as a shell's SIGPIPE (128 + 13)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python docs, "Note on SIGPIPE"
        return 141
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # `python -m csms_local.cli`: run the imported module's main, so the sub-commands' UsageError
    # (csms_local.cli.UsageError) is the one caught, not a copy in __main__.
    from csms_local.cli import main as _main

    sys.exit(_main())
