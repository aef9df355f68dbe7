"""Log core: ring buffer accounting, level classification, include/exclude filters, error rate."""

from __future__ import annotations

import pytest

from tui.core.log_buffer import DEBUG, ERROR, INFO, MARK, TEXT, WARN, LogLine, RingBuffer
from tui.core.log_filter import Classifier, ErrorRate, LogFilter, parse_query
from tui.core.logs import LogStore


def line(seq: int, text: str = "x", *, host: str = "web1", process: str = "demo/0",
         stream: str = "out", level: int = INFO) -> LogLine:
    return LogLine(seq, 0.0, host, process, stream, level, text)


# ----------------------------------------------------------------- ring buffer


def test_ring_buffer_keeps_newest_and_counts_dropped() -> None:
    buf = RingBuffer(3)
    for _ in range(5):
        seq = buf.reserve(1)
        buf.extend([line(seq)])
    assert [ln.seq for ln in buf] == [3, 4, 5]
    assert (buf.total, buf.dropped, len(buf)) == (5, 2, 3)
    assert (buf.first_seq, buf.last_seq) == (3, 5)


def test_ring_buffer_since_and_missed() -> None:
    buf = RingBuffer(4)
    first = buf.reserve(10)
    buf.extend([line(first + i) for i in range(10)])
    assert [ln.seq for ln in buf.since(8)] == [9, 10]
    assert [ln.seq for ln in buf.since(0)] == [7, 8, 9, 10]
    assert buf.since(10) == []
    # A reader that last saw seq 2 missed 3..6: four lines dropped before it got to them.
    assert buf.missed_since(2) == 4
    assert buf.missed_since(8) == 0


def test_ring_buffer_empty() -> None:
    buf = RingBuffer(2)
    assert buf.since(0) == [] and buf.dropped == 0 and buf.missed_since(0) == 0
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_store_accounts_every_line_when_full() -> None:
    store = LogStore(100, clock=lambda: 1000.0)
    calls = []
    store.add_listener(lambda: calls.append(1))
    for i in range(25):
        store.add_lines("web1", "demo/0", "out", [f"line {i}-{j}" for j in range(10)])
    assert store.buffer.total == 250
    assert len(store.buffer) == 100 and store.buffer.dropped == 150
    assert store.buffer.since(0)[-1][TEXT] == "line 24-9"
    assert len(calls) == 25  # one notification per batch, never per line


# ----------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("text", "stream", "level"),
    [
        ("2026-11-26T12:00:00Z INFO GET / 200", "out", INFO),
        ("2026-11-26T12:00:00Z ERROR boom", "out", ERROR),
        ("TypeError: x is undefined", "out", ERROR),
        ("WARN disk at 91%", "out", WARN),
        ("DEBUG cache miss", "out", DEBUG),
        ("anything on stderr", "err", ERROR),
        ("WARN deprecated API on stderr", "err", WARN),
        ("DEBUG noisy lib on stderr", "err", DEBUG),
        ("error and warn: error wins", "out", ERROR),
    ],
)
def test_default_classification(text: str, stream: str, level: int) -> None:
    c = Classifier()
    assert c.level(text, stream) == level
    assert c.levels([text], stream) == [level]


def test_classification_patterns_are_configurable() -> None:
    c = Classifier(error_pattern=r"\bFATAL\b|level=error", warn_pattern=r"level=warn",
                   debug_pattern=r"level=debug", stderr_is_error=False)
    assert c.level("ERROR is just a word here", "out") == INFO
    assert c.level("ts=1 level=error msg=x", "out") == ERROR
    assert c.level("FATAL crash", "out") == ERROR
    assert c.level("plain stderr", "err") == INFO
    assert c.level("level=warn", "err") == WARN


def test_error_lines_move_the_error_rate() -> None:
    now = [1000.0]
    store = LogStore(10, clock=lambda: now[0])
    store.add_lines("web1", "demo/0", "err", ["a", "b"])
    store.add_lines("web1", "demo/0", "out", ["ERROR c", "INFO d"])
    store.add_lines("web2", "demo/0", "out", ["INFO e"])
    assert store.rates.per_minute("web1", now[0]) == 3
    assert store.rates.per_minute("web2", now[0]) == 0
    now[0] += 61
    assert store.rates.per_minute("web1", now[0]) == 0
    assert store.rates.totals["web1"] == 3


def test_error_rate_minutes_and_horizon() -> None:
    rate = ErrorRate(history_minutes=2)
    rate.add("h", 5, 60.0)  # minute 1
    rate.add("h", 2, 125.0)  # minute 2
    rate.add("h", 1, 130.0)
    assert rate.minutes("h", 130.0, count=3) == [0, 5, 3]
    rate.add("h", 1, 400.0)  # everything older than 2 minutes is forgotten
    assert rate.minutes("h", 400.0, count=3) == [0, 0, 1]
    assert rate.per_minute("h", 400.0) == 1


# ----------------------------------------------------------------- filters


def test_parse_query_include_and_exclude() -> None:
    inc, exc = parse_query("GET !health  5\\d\\d")
    assert [p.pattern for p in inc] == ["GET", "5\\d\\d"]
    assert [p.pattern for p in exc] == ["health"]
    assert parse_query("") == ((), ())
    with pytest.raises(ValueError, match="bad regex '\\(unclosed'"):
        parse_query("(unclosed")


def test_filter_regex_include_exclude() -> None:
    f = LogFilter.make(query="GET !/health")
    assert f.matches(line(1, "GET /api 200"))
    assert not f.matches(line(2, "GET /health 200"))
    assert not f.matches(line(3, "POST /api 200"))


def test_filter_level_host_process() -> None:
    lines = [
        line(1, "i", level=INFO),
        line(2, "w", level=WARN),
        line(3, "e", level=ERROR, host="web2"),
        line(4, "e1", level=ERROR, process="demo/1"),
        line(5, "gap marker", level=WARN, stream=MARK, process=""),
    ]
    assert [ln.seq for ln in LogFilter.make(min_level=ERROR).apply(lines)] == [3, 4, 5]
    assert [ln.seq for ln in LogFilter.make(min_level=WARN).apply(lines)] == [2, 3, 4, 5]
    assert [ln.seq for ln in LogFilter.make(hosts={"web2"}).apply(lines)] == [3]
    # Marker lines survive level, process and text filters: they explain gaps.
    assert [ln.seq for ln in LogFilter.make(processes={"demo/1"}).apply(lines)] == [4, 5]
    assert [ln.seq for ln in LogFilter.make(query="nomatch").apply(lines)] == [5]
    assert LogFilter().apply(lines) is lines


def test_filter_replace_and_describe() -> None:
    f = LogFilter.make(min_level=ERROR, hosts={"web1"}, query="boom !x")
    assert f.describe() == "errors only · host web1 · 'boom !x'"
    g = f.replace(min_level=DEBUG, query="")
    assert g.hosts == {"web1"} and not g.includes and g.describe() == "host web1"
    assert LogFilter().is_empty and not f.is_empty


# ----------------------------------------------------------------- batch classification


@pytest.mark.parametrize(
    "patterns",
    [
        ("ERROR|Error|error", "WARN|Warn|warn", "DEBUG|Debug"),  # words: substring pre-filter
        (r"\bERR(OR)?\b|level=error", r"^WARN", r"DEBUG\s"),  # regexes: one scan of the batch
    ],
)
@pytest.mark.parametrize("stream", ["out", "err"])
def test_batch_levels_equal_line_by_line(patterns: tuple[str, str, str], stream: str) -> None:
    c = Classifier(*patterns)
    texts = [
        "INFO GET / 200", "ERROR boom", "WARN slow", "DEBUG x", "", "error: lower", "ERR short",
        "level=error msg", "a WARN in the middle", "WARN at start", "nothing", "Error: Cap",
        "DEBUG\tTab", "errors everywhere", "warn", "ERRORWARN", "x" * 300 + "ERROR",
    ] * 3
    assert c.levels(texts, stream) == [c.level(t, stream) for t in texts]


def test_error_burst_marks_the_journal_once(tmp_path) -> None:
    from types import SimpleNamespace

    from tui.core.logs import LogHub

    recorded: list[dict[str, object]] = []
    journal = SimpleNamespace(record=lambda **kw: recorded.append(kw))
    now = [1000.0]
    config = SimpleNamespace(
        app=SimpleNamespace(name="demo", pm2_bin="pm2", pm2_home="", backend="pm2"),
        logs=SimpleNamespace(initial_lines=10),
    )
    store = LogStore(1000, clock=lambda: now[0])
    hub = LogHub(config, [], journal=journal, store=store, burst_per_minute=10)
    for _ in range(3):
        store.add_lines("web1", "demo/0", "err", [f"e{i}" for i in range(5)])
        now[0] += 1.5
    assert len(recorded) == 1
    assert recorded[0]["kind"] == "alarm" and recorded[0]["host"] == "web1"
    assert "error burst" in str(recorded[0]["message"])
    # Quiet for a while (re-arms), then a new burst marks it again.
    now[0] += 120
    store.add_lines("web1", "demo/0", "out", ["fine"])
    for _ in range(3):
        store.add_lines("web1", "demo/0", "err", [f"e{i}" for i in range(5)])
        now[0] += 1.5
    assert len(recorded) == 2
    assert hub.followers == {}


def test_logs_keys_reach_the_hub_and_its_followers(tmp_path) -> None:
    from tests.local_app import local_config
    from tui.core.logs import LogHub
    from tui.core.transport_local import LocalTransport

    config = local_config(
        tmp_path, "[logs]\nburst_errors_per_minute = 7\nmax_line_kb = 2\nrediscover_s = 5.0\n"
    )
    hub = LogHub(config, [LocalTransport(config.primary_host)])
    follower = hub.followers[config.primary_host.name]
    assert hub.burst_per_minute == 7
    assert (follower.max_line, follower.rediscover_s) == (2048, 5.0)
    defaults = LogHub(local_config(tmp_path, name="defaults.toml"), [])
    assert defaults.burst_per_minute == 30
