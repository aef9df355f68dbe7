"""`shipdeck` command line: the console, the demo, config check, and (later) the headless twins.

Exit codes are a contract for scripts: 0 success, 1 the operation failed, 2 usage or config
error, 3 locked by someone else. Every failure is one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui import __version__
from tui.context import CliError
from tui.core.exit_codes import ExitCode

#: Modules that add subcommands. Each has `register(subparsers, add_common)` which adds its
#: parser(s) and sets `func=run` where `run(args) -> int` returns the exit code.
SUBCOMMAND_MODULES: list[str] = ["tui.verify_cmd", "tui.headless", "tui.check_cmd"]


def _add_common(parser: argparse.ArgumentParser, *, sub: bool = True) -> None:
    # On subcommands the default is SUPPRESS: otherwise a subparser's None would overwrite a
    # --config given before the subcommand (`shipdeck --config F config check`).
    default = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=default,
        help="config file (default: $SHIPDECK_CONFIG, ./shipdeck.toml, user config dir)",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        default=default,
        help="journal database (default: the user state dir)",
    )


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not 0 <= value <= 24 * 60:
        raise argparse.ArgumentTypeError(f"minutes must be between 0 and 1440, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shipdeck",
        description=(
            "A terminal console to carry production deploys of pm2-managed Node apps over SSH, "
            "and to watch and rescue them afterwards."
        ),
    )
    parser.add_argument("--version", action="version", version=f"shipdeck {__version__}")
    _add_common(parser, sub=False)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="open the console with every action disabled (for a second person watching)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tui = sub.add_parser("tui", help="open the console (the default)")
    _add_common(tui)
    tui.add_argument(
        "--read-only", action="store_true", default=argparse.SUPPRESS, help="disable every action"
    )

    demo = sub.add_parser(
        "demo", help="start a local pm2 demo app (no SSH needed) and open the console on it"
    )
    demo.add_argument(
        "--port", type=int, default=3100, help="port of the demo app on 127.0.0.1 (default 3100)"
    )
    demo.add_argument(
        "--no-tui",
        action="store_true",
        help="start the demo, print its config path, stop it again (a smoke test)",
    )
    demo.add_argument(
        "--reset",
        action="store_true",
        help="stop the demo, wipe its state (deployments, releases, journal) and start it again "
        "with 1.0.0 live; the pm2 install is kept",
    )
    demo.add_argument(
        "--ref",
        default=None,
        help="what d then 1-5 deploys (default v1.1.0; v1.2.0 fails its health check, so "
        "VERIFY fails and R rolls it back)",
    )
    demo.add_argument(
        "--watch-minutes",
        type=_minutes,
        default=None,
        metavar="M",
        help="length of the post-deploy watch before CONFIRM (default 2; fractions allowed)",
    )

    config = sub.add_parser("config", help="config file tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = config_sub.add_parser("check", help="validate a config file")
    check.add_argument("file", nargs="?", help="the file (default: the config that would be used)")
    _add_common(check)

    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(sub, _add_common)
    return parser


def _config_arg(args: argparse.Namespace) -> str | None:
    return getattr(args, "config", None)


def cmd_config_check(args: argparse.Namespace) -> int:
    from tui.core.config import ConfigError, check_config, find_config_path

    try:
        path = Path(args.file) if args.file else find_config_path(_config_arg(args))
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return ExitCode.USAGE
    config, problems = check_config(path)
    if problems or config is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        return ExitCode.USAGE
    hosts = len(config.hosts)
    print(f"ok: {hosts} host{'s' if hosts != 1 else ''}, app {config.app.name}")
    return ExitCode.OK


def cmd_tui(args: argparse.Namespace) -> int:
    from tui.context import open_context

    ctx = open_context(_config_arg(args), getattr(args, "journal", None))
    from tui.app import ShipdeckApp

    app = ShipdeckApp(ctx, read_only=bool(getattr(args, "read_only", False)))
    try:
        app.run()
    finally:
        ctx.close()
    return app.return_code or ExitCode.OK


#: Seconds a console that lost its terminal has to exit before the process ends itself.
HANGUP_GRACE_S = 10.0


def _exit_on_hangup(console: list[Any], cleanup: Callable[[], None]) -> None:
    """SIGHUP/SIGTERM (a lost terminal, a kill) end the demo, and its pm2 with it.

    Before the console runs (starting the demo): SystemExit, and `finally` stops the demo.
    While it runs (``console`` holds it): the demo's pm2 is stopped at once (``cleanup``), then
    the console is asked to exit. A SystemExit raised into whatever runs at that moment can
    land in a worker that keeps it (the post-deploy watch), and with its terminal gone Textual
    can hang in its shutdown (its SIGCONT handler restarts the output thread mid-exit): seen
    leaving console and pm2 running with no terminal. So the process also ends itself after
    HANGUP_GRACE_S; the journal is crash-safe."""

    def handler(signum: int, _frame: object) -> None:
        code = 128 + signum
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if not console or loop is None:
            raise SystemExit(code)
        cleanup()
        loop.call_soon_threadsafe(functools.partial(console[0].exit, return_code=code))
        watchdog = threading.Timer(HANGUP_GRACE_S, os._exit, (code,))
        watchdog.daemon = True
        watchdog.start()

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, handler)


def cmd_demo(args: argparse.Namespace) -> int:
    from tui.core.demo import DEFAULT_REF, DEFAULT_WATCH_MINUTES, DemoError, LocalDemo

    def say(line: str) -> None:
        print(line, flush=True)

    minutes = DEFAULT_WATCH_MINUTES if args.watch_minutes is None else args.watch_minutes
    demo = LocalDemo(port=args.port, progress=say, watch_minutes=minutes,
                     ref=args.ref or DEFAULT_REF)  # fmt: skip
    console: list[Any] = []
    _exit_on_hangup(console, demo.stop)
    try:
        if args.reset:
            say(demo.reset())
        config_path = demo.start()
    except DemoError as err:
        demo.stop()
        raise CliError(str(err), ExitCode.FAILED) from None
    try:
        if args.no_tui:
            print(f"demo config: {config_path}")
            return ExitCode.OK
        from tui.context import open_context

        ctx = open_context(str(config_path), str(demo.journal_path))
        from tui.app import ShipdeckApp

        app = ShipdeckApp(ctx, read_only=bool(getattr(args, "read_only", False)))
        console.append(app)
        try:
            app.run()
        finally:
            console.clear()
            ctx.close()
        return app.return_code or ExitCode.OK
    finally:
        demo.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "func"):
            return int(args.func(args))
        if args.command == "config":
            if args.config_command != "check":
                parser.parse_args(["config", "--help"])
            return cmd_config_check(args)
        if args.command == "demo":
            return cmd_demo(args)
        return cmd_tui(args)
    except CliError as err:
        print(str(err) if err.raw else f"shipdeck: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("shipdeck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
