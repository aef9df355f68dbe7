"""Error lines as the watch, its baseline and the Error Check count them: by the Classifier of
``[logs]`` (level >= ERROR), not by a regex on the raw line. With the real logger output of
tests/unit/fixtures/logs: pino's level-50/60 lines count, a line whose path says "error.log"
does not; the time of a JSON line is its time field."""

from __future__ import annotations

import time
from pathlib import Path

from tui.core.config import HostConfig
from tui.core.log_filter import Classifier
from tui.core.transport import LocalTransport
from tui.core.verify_checks import LogTail, judge_errors
from tui.core.watch_logs import LogErrorCounter
from tui.core.watch_rules import TailedFile, errors_from_timestamps, rate_from_timestamps

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
PINO = tuple(FIXTURES.joinpath("pino.jsonl").read_text().splitlines())
WINSTON = tuple(FIXTURES.joinpath("winston.jsonl").read_text().splitlines())
BUNYAN = tuple(FIXTURES.joinpath("bunyan.jsonl").read_text().splitlines())
# The loggers wrote them at 2026-12-07T13:01:52.5Z.
WRITTEN = 1796648512.5
DEFAULTS = Classifier()  # [logs] defaults: error_pattern "ERROR|Error|error", format "auto"


def local() -> LocalTransport:
    return LocalTransport(HostConfig(name="l", address="", transport="local"))


def test_the_error_check_counts_json_lines_by_their_level() -> None:
    result = judge_errors(
        [LogTail("/l/pino.log", PINO), LogTail("/l/winston.log", WINSTON),
         LogTail("/l/bunyan.log", BUNYAN)], DEFAULTS,
    )  # fmt: skip
    files = result.data["files"]
    # pino: "request errored" (50), "out of memory" (60), "query failed" (50); not the level-30
    # "rotated error log file" whose path field says error.log (the raw regex counted that one
    # and missed the two without the word).
    assert files["/l/pino.log"]["errors"] == 3
    assert files["/l/winston.log"]["errors"] == 1  # "payment failed"; not "errorHandler ..."
    assert files["/l/bunyan.log"]["errors"] == 1  # "order failed" (50)
    assert result.data["errors"] == 5
    # A bare regex (older callers) still judges JSON lines by their level field.
    assert judge_errors([LogTail("/l/pino.log", PINO)], "ERROR|Error|error").data["errors"] == 3


def test_stderr_lines_are_errors_unless_they_say_less() -> None:
    err = ("2026-12-07T13:01:52.500Z TypeError: x is undefined",
           "    at handler (/srv/app/server.js:10:5)",
           "(node:1234) Warning: Possible EventEmitter memory leak detected")  # fmt: skip
    out = judge_errors([LogTail("/l/err.log", err, stream="err")], DEFAULTS)
    assert out.data["files"]["/l/err.log"] == {"lines": 3, "errors": 2, "stream": "err"}
    # On stdout only the line that says "Error" counts.
    assert judge_errors([LogTail("/l/out.log", err)], DEFAULTS).data["errors"] == 1
    quiet = Classifier(stderr_is_error=False)
    assert judge_errors([LogTail("/l/err.log", err, stream="err")], quiet).data["errors"] == 1


def test_the_baseline_rate_takes_json_times_from_their_fields() -> None:
    files = [TailedFile(PINO, complete=True, path="/l/p", stream="out"),
             TailedFile(WINSTON, complete=True), TailedFile(BUNYAN, complete=True)]  # fmt: skip
    found = errors_from_timestamps(files, DEFAULTS, WRITTEN + 60.0, window_s=600.0)
    assert found is not None
    errors, span, detail = found
    assert errors == 5 and span == 600.0 and "5 error line(s)" in detail
    # Eleven minutes later they are all out of the 10-minute window: the rate is 0, not unknown.
    later = rate_from_timestamps(files, DEFAULTS, WRITTEN + 660.0, window_s=600.0)
    assert later is not None and later[0] == 0.0
    # A cut tail covers only the time back to its first line (here: the same moment).
    cut = [TailedFile(PINO, complete=False)]
    assert errors_from_timestamps(cut, DEFAULTS, WRITTEN + 30.0)[:2] == (3, 60.0)


async def test_the_log_counter_reads_new_lines_and_counts_by_level(tmp_path: Path) -> None:
    out, err = tmp_path / "app-out.log", tmp_path / "app-error.log"
    out.write_text(PINO[0] + "\n")
    err.write_text("")
    counter = LogErrorCounter(local(), DEFAULTS, streams={str(err): "err"})
    paths = [str(out), str(err)]
    first = await counter.read(paths)
    assert first is not None and first.errors == 0 and dict(first.lines) == {}
    assert first.host_now is not None and abs(first.host_now - time.time()) < 5
    with out.open("a") as f:
        f.write("\n".join(PINO[1:]) + "\n")
    with err.open("a") as f:
        f.write("Unhandled rejection: ECONNREFUSED\n")
    growth = await counter.read(paths)
    assert growth is not None
    assert growth.lines[str(out)] == PINO[1:] and growth.lines[str(err)] == (
        "Unhandled rejection: ECONNREFUSED",
    )
    assert growth.errors == 3 + 1  # pino's three, and the stderr line (stderr_is_error)
    assert await counter.count(paths) == 0
