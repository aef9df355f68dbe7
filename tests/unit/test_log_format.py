"""JSON log lines from real loggers (tests/unit/fixtures/logs) are judged by their fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.log_buffer import DEBUG, ERROR, INFO, WARN
from tui.core.log_filter import Classifier
from tui.core.log_format import LogFormat, level_of, time_of

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


@pytest.mark.parametrize(
    ("name", "levels"),
    [
        # info, warn, error (err object), fatal, info mentioning error.log, child error
        ("pino.jsonl", [INFO, WARN, ERROR, ERROR, INFO, ERROR]),
        # info, warn, error (with an "error" field), "errorHandler registered" info, debug
        ("winston.jsonl", [INFO, WARN, ERROR, INFO, DEBUG]),
        ("bunyan.jsonl", [INFO, ERROR, WARN]),
    ],
)
def test_real_logger_lines_get_their_own_level(name: str, levels: list[int]) -> None:
    classifier = Classifier()  # the defaults: error_pattern "ERROR|Error|error", format auto
    texts = lines(name)
    assert [classifier.level(t) for t in texts] == levels
    # The batch path (used at ingest) agrees with the one-line path, mixed with text lines.
    mixed = [*texts, "plain ERROR line", "plain line", *texts]
    expected = [*levels, ERROR, INFO, *levels]
    assert classifier.levels(mixed, "out") == expected


def test_words_in_other_fields_do_not_make_an_error() -> None:
    classifier = Classifier()
    # The raw-line regex would call these errors: a path and a field name say "error".
    line = '{"level":30,"msg":"rotated","file":"/var/log/error.log","errorCount":0}'
    assert classifier.level(line) == INFO
    # stderr stays an error only when the record does not say otherwise.
    assert classifier.level(line, "err") == INFO
    assert classifier.level('{"msg":"no level here"}', "err") == ERROR


def test_a_record_without_a_level_is_judged_by_its_message() -> None:
    classifier = Classifier()
    assert classifier.level('{"msg":"Error: boom","path":"/x"}') == ERROR
    assert classifier.level('{"msg":"fine","path":"/error"}') == INFO


def test_text_format_never_parses() -> None:
    classifier = Classifier(log_format=LogFormat("text"))
    assert classifier.level('{"level":50,"msg":"request errored"}') == ERROR  # by the word
    assert classifier.level('{"level":50,"msg":"request failed"}') == INFO


def test_parse_gives_message_time_and_the_rest() -> None:
    pino = LogFormat().parse(lines("pino.jsonl")[1])
    assert pino is not None and pino.level == WARN
    assert pino.message == "price lookup failed for sku=1234, using 0"
    assert pino.ts == pytest.approx(1796648512.511)
    assert "sku=1234" in pino.rest and "level=" not in pino.rest and "msg=" not in pino.rest
    winston = LogFormat().parse(lines("winston.jsonl")[2])
    assert winston is not None and winston.level == ERROR and winston.message == "payment failed"
    assert winston.ts == pytest.approx(1796648512.579)
    assert winston.line() == f"payment failed  {winston.rest}"


def test_custom_keys() -> None:
    fmt = LogFormat("json", level_key="severity", message_keys=("text",), time_keys=("at",))
    record = fmt.parse('{"severity":"WARNING","text":"disk 91%","at":1700000000}')
    assert record is not None
    assert (record.level, record.message, record.ts) == (WARN, "disk 91%", 1700000000.0)


@pytest.mark.parametrize(
    "text", ["not json", "{broken", "[1, 2]", '"a string"', "", "{"],
)
def test_anything_else_is_text(text: str) -> None:
    assert LogFormat().parse(text) is None


def test_level_and_time_values() -> None:
    assert [level_of(v) for v in (10, 20, 30, 40, 50, 60, "50", "Error", "crit", "nope", True)] == [
        DEBUG, DEBUG, INFO, WARN, ERROR, ERROR, ERROR, ERROR, ERROR, None, None,
    ]  # fmt: skip
    assert time_of("2026-12-07T13:01:52.600Z") == pytest.approx(1796648512.6)
    assert time_of("2026-12-07 13:01:52") is None  # no zone: cannot be placed in time
    assert time_of(1796648512) == 1796648512.0
