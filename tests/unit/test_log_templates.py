"""Log templates: masking, the Drain miner (grouping, bounds) and splitting raw lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tui.core.log_buffer import DEBUG, ERROR, INFO, WARN
from tui.core.log_filter import Classifier
from tui.core.log_templates import TemplateMiner, mask, mask_token, split_line, split_lines
from tui.core.redact import Redactor

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
T0 = datetime(2026, 12, 7, 13, 1, 52, 577000, tzinfo=UTC).timestamp()


# ----------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        # numbers: integers, decimals with a unit, ids in paths and key=value
        ("GET /api/orders/42 200 12.3ms pid=123", "GET /api/orders/<NUM> <NUM> <NUM>ms pid=<NUM>"),
        ("lookup failed for sku=1001, using 0", "lookup failed for sku=<NUM>, using <NUM>"),
        ("query failed: timeout after 5000ms", "query failed: timeout after <NUM>ms"),
        # hex: 0x-prefixed, and bare runs of hex digits with letters and digits
        ("bad pointer 0x7ffd5e8c addr=0X1F", "bad pointer <HEX> addr=<HEX>"),
        ("commit 3f2a9c1d req=0000abcd", "commit <HEX> req=<HEX>"),
        # UUIDs
        ("session 550e8400-e29b-41d4-a716-446655440000 expired",
         "session <UUID> expired"),
        ("id=550E8400-E29B-41D4-A716-446655440000.", "id=<UUID>."),
        # IPs: v4 (with a port), v6
        ("connect ECONNREFUSED 10.0.0.12:5432", "connect ECONNREFUSED <IP>:<NUM>"),
        ("listening on [::1]:3000 and fe80::1ff:fe23:4567:890a",
         "listening on [<IP>]:<NUM> and <IP>"),
        # timestamps: ISO with zone, date, time of day
        ("token expires 2026-12-07T13:01:52.577Z", "token expires <TS>"),
        ("backup of 2026-12-07 done at 13:01:52", "backup of <TS> done at <TS>"),
        ("at 2026-12-07T13:01:52+01:00,", "at <TS>,"),
        # quoted values (blanks inside), double and single
        ('unknown product "Blue Widget 42"', "unknown product <STR>"),
        ("user 'alice smith' not found", "user <STR> not found"),
        ('payload {"id":17,"ok":true}', "payload {<STR>:<NUM>,<STR>:true}"),
    ],
)  # fmt: skip
def test_each_kind_is_masked(message: str, masked: str) -> None:
    assert mask(message) == masked


@pytest.mark.parametrize(
    "message",
    [
        "can't reach the database, won't retry",  # apostrophes are not quotes
        "sha256 v1.2.3 utf8 e2e ord_9f8e trace=a1b2 std::vector deadbeef",  # words with digits
        "server listening",
    ],
)
def test_words_are_not_masked(message: str) -> None:
    assert mask(message) == message


def test_masking_ignores_the_values_of_digits() -> None:
    # The miner's fast path keys lines by their digits replaced with 0: masking must agree.
    pairs = [
        ("a 0x1f b", "a 9x9f b"),
        ("ip 10.0.0.1 ts 2026-12-07T13:01:52Z", "ip 99.9.9.9 ts 9999-99-99T99:99:99Z"),
        ("id 3f2a9c1d-0000-4000-8000-000000000000", "id 3f2a9c1d-1111-4111-8111-111111111111"),
    ]
    for a, b in pairs:
        assert mask(a) == mask(b)
    assert mask_token("sku=1001,") == "sku=<NUM>,"


# ----------------------------------------------------------------------------- Drain


def test_drain_groups_requests_that_differ_in_their_values() -> None:
    miner = TemplateMiner()
    a = miner.add(T0, INFO, "GET /api/orders/42 200 12.3ms")
    b = miner.add(T0 + 1.5, INFO, "GET /api/orders/77 200 8.1ms")
    assert a is b
    assert len(miner) == 1
    assert a.text == "GET /api/orders/<NUM> <NUM> <NUM>ms"
    assert a.count == 2
    assert (a.first_seen, a.last_seen) == (T0, T0 + 1.5)
    assert a.example == "INFO GET /api/orders/42 200 12.3ms"


def test_drain_merges_a_differing_token_into_a_wildcard() -> None:
    miner = TemplateMiner()
    a = miner.add(T0, INFO, "login ok for alice from web")
    b = miner.add(T0, INFO, "login ok for bob from web")
    assert a is b
    assert a.text == "login ok for <*> from web"
    # A token with digits routes through the <*> branch and merges too.
    c = miner.add(T0, INFO, "worker7 picked job")
    d = miner.add(T0, INFO, "worker12 picked job")
    assert c is d and c.text == "<*> picked job"
    assert miner.match(INFO, "worker3 picked job") is c


def test_digits_left_in_a_template_are_not_taken_for_masked_ones() -> None:
    # "/api/v2/orders" keeps its digit; a line with "v3" must not join "v2"'s template unseen
    # (the fast path keys lines by their digits as 0): Drain merges it into <*> instead.
    miner = TemplateMiner()
    v2 = miner.add(T0, INFO, "GET /api/v2/orders 200")
    assert v2.text == "GET /api/v2/orders <NUM>"
    assert miner.add(T0, INFO, "GET /api/v3/orders 200") is v2
    assert v2.text == "GET <*> <NUM>"
    sha = miner.add(T0, INFO, "sha256 mismatch")
    assert sha.text == "sha256 mismatch"
    assert miner.add(T0, INFO, "sha512 mismatch") is sha and sha.text == "<*> mismatch"


def test_different_shapes_stay_apart() -> None:
    miner = TemplateMiner()
    lines = [
        (INFO, "GET /api/orders/42 200 12.3ms"),
        (INFO, "GET /api/users/42 200 12.3ms"),  # another route (second token)
        (INFO, "POST /api/orders/42 201 12.3ms"),  # another method (first token)
        (INFO, "GET /api/orders/42 200 12.3ms pid=123"),  # another length
        (INFO, "order placed id=991"),
        (INFO, "order failed id=991"),
        (WARN, "GET /api/orders/42 200 12.3ms"),  # the same words at another level
        (ERROR, "boom: simulated failure on GET /boom pid=123"),
        (ERROR, "request failed: simulated error on GET /api/status pid=123"),
    ]
    templates = [miner.add(T0, level, message) for level, message in lines]
    assert len({t.id for t in templates}) == len(lines) == len(miner)
    assert templates[6].level == WARN and templates[0].level == INFO


def test_level_is_the_highest_seen_and_the_example_is_redacted() -> None:
    redactor = Redactor(["hunter2-secret"])
    miner = TemplateMiner(redact=redactor)
    line = "2026-12-07T13:01:52Z ERROR login failed password=hunter2-secret user=7"
    t = miner.add(T0, ERROR, "login failed password=hunter2-secret user=7", line=line)
    assert t.text == "login failed password=*** user=<NUM>"  # text and example are redacted
    assert t.example == "2026-12-07T13:01:52Z ERROR login failed password=*** user=7"
    assert miner.add(T0 + 5, ERROR, "login failed password=hunter2-secret user=8") is t
    assert miner.add(T0 + 6, ERROR, "login failed password=other-value user=9") is t
    assert t.count == 3 and t.level == ERROR
    assert t.text == "login failed <*> user=<NUM>"
    assert t.example == "2026-12-07T13:01:52Z ERROR login failed password=*** user=7"


def test_lru_bound_evicts_the_least_recently_seen_and_counts_it() -> None:
    miner = TemplateMiner(max_templates=3)
    a = miner.add(T0, INFO, "alpha started")
    b = miner.add(T0, INFO, "beta started now")
    c = miner.add(T0, INFO, "gamma started now and then")
    miner.add(T0 + 1, INFO, "alpha started")  # a is now the most recently seen
    d = miner.add(T0 + 2, INFO, "delta is a four token line too")
    assert len(miner) == 3 and miner.evicted == 1
    assert not b.alive and miner.get(b.id) is None
    assert a.alive and c.alive and d.alive
    # The evicted shape comes back as a new template (new id, count from 1); caches do not
    # hand out the dead one.
    b2 = miner.add(T0 + 3, INFO, "beta started now")
    assert b2 is not b and b2.id > d.id and b2.count == 1
    assert miner.evicted == 2 and len(miner) == 3
    for i in range(100):
        miner.add(T0 + 4, INFO, " ".join(["shape"] * (i + 1)))
    assert len(miner) == 3 and miner.evicted == 102
    # The tree holds no more than what the live templates need (empty branches pruned).
    assert len(miner._roots) <= 3


def test_max_children_bounds_a_node_and_sends_the_rest_through_the_wildcard() -> None:
    miner = TemplateMiner(max_children=4)
    for i in range(50):
        miner.add(T0, INFO, f"{chr(97 + i % 26)}{chr(97 + i // 26)}word does a thing")
    root = miner._roots[(INFO, 4)]
    assert len(root.children) <= 4 and "<*>" in root.children
    assert len(miner) < 50  # the overflow shares a leaf and merges


def test_long_messages_are_cut() -> None:
    miner = TemplateMiner(max_chars=50, max_example_chars=40)
    t = miner.add(T0, ERROR, "stack " + "frame " * 1000)
    assert len(t.text) <= 50 and len(t.example) <= 41


def test_real_logger_messages_share_templates_with_text_lines() -> None:
    classifier = Classifier()
    miner = TemplateMiner()
    pino = (FIXTURES / "pino.jsonl").read_text().splitlines()
    ts, level, message = split_line(pino[1], classifier)
    from_json = miner.add(ts or 0.0, level, message)
    text = "2026-12-07T13:01:53.001Z WARN price lookup failed for sku=1042, using 0"
    ts2, level2, message2 = split_line(text, classifier)
    assert miner.add(ts2 or 0.0, level2, message2) is from_json
    assert from_json.text == "price lookup failed for sku=<NUM>, using <NUM>"
    assert from_json.level == WARN


# ----------------------------------------------------------------------------- raw lines


def test_split_line_takes_time_and_level_off_a_text_line() -> None:
    classifier = Classifier()
    line = "2026-12-07T13:01:52.577Z WARN price lookup failed for sku=1001, using 0"
    assert split_line(line, classifier) == (T0, WARN, "price lookup failed for sku=1001, using 0")
    err = "2026-12-07T13:01:52.577Z ERROR boom: simulated failure on GET /boom pid=123"
    assert split_line(err, classifier, stream="err")[1:] == (
        ERROR,
        "boom: simulated failure on GET /boom pid=123",
    )
    # The Classifier judges the level (stderr is an error unless a pattern says otherwise).
    assert split_line("2026-12-07T13:01:52Z something odd", classifier, stream="err")[1] == ERROR
    # No time of its own: the arrival time; a time without a zone: in default_tz.
    assert split_line("plain words", classifier, default_ts=5.0) == (5.0, INFO, "plain words")
    tz = timezone(timedelta(hours=1))
    assert split_line("2026-12-07 14:01:52.577 INFO up", classifier, default_tz=tz)[0] == T0
    assert split_line("2026-12-07T14:01:52.577+01:00 [info] up", classifier)[::2] == (T0, "up")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pino.jsonl", [
            (INFO, "request completed"), (WARN, "price lookup failed for sku=1234, using 0"),
            (ERROR, "request errored"), (ERROR, "out of memory"),
            (INFO, "rotated error log file"), (ERROR, "query failed: timeout after 5000ms"),
        ]),
        ("winston.jsonl", [
            (INFO, "server listening"), (WARN, "slow request"), (ERROR, "payment failed"),
            (INFO, "errorHandler registered"), (DEBUG, "cache miss"),
        ]),
        ("bunyan.jsonl", [(INFO, "order placed id=991"), (ERROR, "order failed"),
                          (WARN, "retrying")]),
    ],
)  # fmt: skip
def test_split_lines_of_real_json_loggers(name: str, expected: list[tuple[int, str]]) -> None:
    texts = (FIXTURES / name).read_text().splitlines()
    split = split_lines(texts, Classifier(), default_ts=1.0)
    assert [(level, message) for _, level, message in split] == expected
    assert all(ts is not None and ts > 1.7e9 for ts, _, _ in split)  # their own times
