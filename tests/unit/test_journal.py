from __future__ import annotations

import getpass
import json
import logging
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.core.journal import (
    OUTPUT_TAIL_CHARS,
    TRUNCATED_MARK,
    Event,
    Journal,
    JournalError,
)
from tui.core.journal_schema import SCHEMA_VERSION, migrate, schema_version
from tui.core.redact import Redactor

SECRET = "hunter2-secret"
WRITER = Path(__file__).with_name("journal_writer.py")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3", Redactor([SECRET], [r"(?i)(password)\s*=\s*\S+"]))
    yield j
    j.close()


def raw(path: Path) -> sqlite3.Connection:
    """A connection of our own, to see what is really in the file."""
    return sqlite3.connect(path)


# -- opening and schema ---------------------------------------------------------


def test_creates_missing_directory_and_uses_wal_full(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite3"
    with Journal(path) as j:
        assert path.is_file()
        conn = j._conn
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert schema_version(conn) == SCHEMA_VERSION


def test_unwritable_path_raises_one_line_journal_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    path = afile / "journal.sqlite3"
    with pytest.raises(JournalError) as err:
        Journal(path)
    message = str(err.value)
    assert str(path) in message
    assert f"{afile} is not a directory" in message
    assert "\n" not in message


def test_corrupt_file_raises_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not an sqlite database at all" * 200)
    with pytest.raises(JournalError, match=r"journal\.sqlite3") as err:
        Journal(path)
    assert "\n" not in str(err.value)


def test_directory_as_path_raises_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="directory"):
        Journal(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(JournalError, match="newer"):
        Journal(path)


def test_migrates_an_empty_database_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    raw(path).close()  # an empty SQLite file, user_version 0
    with Journal(path) as j:
        event = j.record(kind="note", message="first")
    conn = raw(path)
    assert schema_version(conn) == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"deployments", "events", "sign_offs", "audit", "overrides", "changelog"} <= tables
    indices = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "events_by_deployment" in indices
    assert migrate(conn) == SCHEMA_VERSION  # already current: nothing to do
    conn.close()
    with Journal(path) as again:
        assert again.events() == [event]
        assert again.record(kind="note", message="second").id > event.id


def test_memory_journal(tmp_path: Path) -> None:
    with Journal(":memory:") as j:
        assert j.record(kind="note", message="x").id == 1


def test_closed_journal_raises(journal: Journal) -> None:
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        journal.record(kind="note", message="late")


# -- events -----------------------------------------------------------------------


def test_event_round_trip(journal: Journal) -> None:
    dep = journal.start_deployment("demo", "main")
    written = journal.record(
        kind="command", message="npm ci", host="web-1", step="build", deployment_id=dep.id,
        argv=["npm", "ci"], exit_status=0, duration=1.5, output_tail="added 3 packages\n",
        data={"n": 1, "list": [1, "two"], "nested": {"ok": True}},
    )  # fmt: skip
    [read] = journal.events()
    assert read == written
    assert read.argv == ("npm", "ci")
    assert read.data == {"n": 1, "list": [1, "two"], "nested": {"ok": True}}
    as_json = read.to_json()
    assert json.loads(json.dumps(as_json))["argv"] == ["npm", "ci"]
    assert as_json["time"] and as_json["deployment_id"] == dep.id


def test_events_ordered_and_tailable(journal: Journal) -> None:
    ids = [journal.record(kind="note", message=f"m{i}").id for i in range(10)]
    assert ids == sorted(ids) and len(set(ids)) == 10
    assert [e.message for e in journal.events()] == [f"m{i}" for i in range(10)]
    assert [e.id for e in journal.events(after_id=ids[6])] == ids[7:]
    assert [e.id for e in journal.tail(ids[6])] == ids[7:]
    assert [e.id for e in journal.events(after_id=ids[2], limit=3)] == ids[3:6]
    assert journal.tail(ids[-1]) == []
    assert journal.last_event_id() == ids[-1]
    assert [e.id for e in journal.recent_events(3)] == ids[-3:]


def test_events_filtered_by_deployment_and_kind(journal: Journal) -> None:
    a = journal.start_deployment("demo", "v1")
    b = journal.start_deployment("demo", "v2")
    journal.record(kind="step.start", step="backup", message="a", deployment_id=a.id)
    journal.record(kind="note", message="b", deployment_id=b.id)
    journal.record(kind="step.ok", step="backup", message="a2", deployment_id=a.id)
    journal.record(kind="step.start", step="build", message="a3", deployment_id=a.id)
    assert [e.message for e in journal.events(deployment_id=a.id)] == ["a", "a2", "a3"]
    assert [e.message for e in journal.events(kinds=["note"])] == ["b"]
    assert [e.message for e in journal.recent_events(1, deployment_id=a.id)] == ["a3"]
    assert journal.step_states(a.id) == {"backup": "ok", "build": "running"}


def test_record_redacts_every_text_field(journal: Journal) -> None:
    event = journal.record(
        kind="command",
        message=f"connect with {SECRET}",
        argv=["psql", f"--password={SECRET}", "password=abc"],
        output_tail=f"line\n{SECRET}\npassword = xyz\n",
        data={"env": {"PGPASSWORD": SECRET}, "list": [SECRET, 3], SECRET: "key"},
    )
    stored = journal.events()[0]
    assert stored == event
    blob = json.dumps(stored.to_json())
    assert SECRET not in blob and "abc" not in blob and "xyz" not in blob
    assert stored.message == "connect with ***"
    assert stored.argv == ("psql", "--password=***", "password=***")
    assert stored.output_tail == "line\n***\npassword = ***\n"
    assert stored.data == {"env": {"PGPASSWORD": "***"}, "list": ["***", 3], "***": "key"}
    # And the file itself holds no secret (the WAL included).
    for f in journal.path.parent.iterdir():
        assert SECRET.encode() not in f.read_bytes()


def test_output_tail_is_cut_after_redaction(journal: Journal) -> None:
    long = "x" * 100 + "\n" + "".join(f"line {i} {SECRET}\n" for i in range(2000))
    event = journal.record(kind="command", message="m", output_tail=long)
    assert len(event.output_tail) <= OUTPUT_TAIL_CHARS
    assert event.output_tail.startswith(TRUNCATED_MARK + "line ")
    assert event.output_tail.endswith("line 1999 ***\n")
    assert SECRET[3:] not in event.output_tail


def test_data_with_non_json_values_is_stored_as_text(journal: Journal) -> None:
    event = journal.record(kind="note", message="m", data={"path": Path("/srv/app"), "t": (1, 2)})
    assert event.data == {"path": "/srv/app", "t": [1, 2]}


def test_concurrent_writers_from_threads(journal: Journal) -> None:
    def write(n: int) -> None:
        for i in range(50):
            journal.record(kind="note", message=f"{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    events = journal.events()
    assert len(events) == 200
    assert len({e.message for e in events}) == 200


# -- listeners ----------------------------------------------------------------------


def test_listener_called_after_commit(journal: Journal) -> None:
    seen: list[tuple[Event, int]] = []

    def listener(event: Event) -> None:
        # A separate connection sees the row: it was committed before we were called.
        with raw(journal.path) as conn:
            count = conn.execute("SELECT COUNT(*) FROM events WHERE id = ?", (event.id,))
            seen.append((event, count.fetchone()[0]))

    journal.add_listener(listener)
    event = journal.record(kind="note", message="hello")
    assert seen == [(event, 1)]
    journal.remove_listener(listener)
    journal.record(kind="note", message="unheard")
    assert len(seen) == 1


def test_failing_listener_does_not_lose_the_event(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    later: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("widget exploded")

    journal.add_listener(broken)
    journal.add_listener(later.append)
    with caplog.at_level(logging.ERROR, logger="tui.core.journal"):
        event = journal.record(kind="note", message="still here")
    assert journal.events() == [event]
    assert later == [event]
    assert "widget exploded" in caplog.text


# -- deployments ----------------------------------------------------------------------


def test_deployment_lifecycle(tmp_path: Path) -> None:
    clock = iter(range(1000, 2000)).__next__
    with Journal(tmp_path / "j.sqlite3", Redactor([SECRET]), clock=lambda: float(clock())) as j:
        dep = j.start_deployment(
            "demo", "v1.1.0", ssh_user="deploy", from_version="1.0.0", data={"a": 1}
        )
        assert isinstance(dep.id, int)
        assert (dep.state, dep.ended_at, dep.pid) == ("running", None, os.getpid())
        assert dep.who == f"{getpass.getuser()}@{socket.gethostname()}"
        assert j.unfinished_deployments("demo") == [dep]

        dep = j.update_deployment(dep.id, step="build", data={"b": 2})
        assert dep.step == "build" and dep.data == {"a": 1, "b": 2}
        dep = j.update_deployment(dep.id, state="interrupted")
        assert dep.ended_at is None and j.unfinished_deployments("demo") == [dep]

        dep = j.update_deployment(dep.id, state="succeeded", to_version=f"1.1.0 {SECRET}")
        assert dep.ended_at is not None and dep.finished
        assert dep.to_version == "1.1.0 ***"
        assert j.unfinished_deployments("demo") == []
        assert j.deployment(dep.id) == dep
        assert j.deployment(dep.id + 100) is None
        assert json.loads(json.dumps(dep.to_json()))["state"] == "succeeded"

        other = j.start_deployment("other", "main")
        failed = j.start_deployment("demo", "v2")
        j.update_deployment(failed.id, state="failed")
        assert [d.id for d in j.deployments("demo")] == [failed.id, dep.id]
        assert [d.id for d in j.deployments()] == [failed.id, other.id, dep.id]
        assert [d.id for d in j.deployments("demo", state="succeeded")] == [dep.id]
        assert [d.id for d in j.deployments(limit=1)] == [failed.id]
        assert j.unfinished_deployments("demo") == []
        assert [d.id for d in j.unfinished_deployments()] == [other.id]

        with pytest.raises(TypeError, match="nope"):
            j.update_deployment(dep.id, nope=1)
        with pytest.raises(JournalError, match="no deployment"):
            j.update_deployment(9999, state="failed")


def test_event_for_unknown_deployment_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError):
        journal.record(kind="note", message="m", deployment_id=424242)


# -- sign-offs, audit, overrides, changelog --------------------------------------------


def test_sign_offs(journal: Journal) -> None:
    dep = journal.start_deployment("demo", "main")
    a = journal.sign_off(dep.id, "code_reviewed", note=f"PR ok {SECRET}", link="https://x/pr/1")
    b = journal.sign_off(dep.id, "support_aware")
    c = journal.sign_off(dep.id, "code_reviewed", state="revoked", note="wrong PR")
    assert journal.sign_offs(dep.id) == [a, b, c]
    assert a.note == "PR ok ***" and a.link == "https://x/pr/1"
    assert a.who == f"{getpass.getuser()}@{socket.gethostname()}"
    assert (a.state, c.state) == ("signed", "revoked")
    assert journal.sign_offs(None) == []


def test_audit_records_who(journal: Journal) -> None:
    dep = journal.start_deployment("demo", "main")
    entry = journal.audit(
        "rollback", host="web-1", ssh_user="deploy", detail=f"because {SECRET}",
        deployment_id=dep.id,
    )  # fmt: skip
    assert entry.local_user == getpass.getuser()
    assert entry.jump_host == socket.gethostname()
    assert entry.who == f"{getpass.getuser()}@{socket.gethostname()}"
    assert (entry.ssh_user, entry.host, entry.detail) == ("deploy", "web-1", "because ***")
    journal.audit("unlock")
    assert journal.audit_entries(deployment_id=dep.id) == [entry]
    assert [e.action for e in journal.audit_entries()] == ["rollback", "unlock"]


def test_overrides_and_changelog(journal: Journal) -> None:
    dep = journal.start_deployment("demo", "v1.1.0")
    with pytest.raises(ValueError, match="reason"):
        journal.override(dep.id, "checklist", "   ")
    ov = journal.override(dep.id, "policy", "hotfix for outage", data={"rule": "friday"})
    assert journal.overrides(dep.id) == [ov]
    assert ov.who.startswith(getpass.getuser())
    line = journal.add_changelog(dep.id, "2025-01-01 alice 1.0.0 -> 1.1.0 v1.1.0")
    assert line.app == "demo"
    assert journal.changelog("demo") == [line]
    assert journal.changelog("other") == []


# -- the SIGKILL test --------------------------------------------------------------------


def test_sigkill_loses_no_reported_event(tmp_path: Path) -> None:
    """A writer process prints each event id right after record() returned; we
    SIGKILL it mid-stream. Every printed id must be in the journal with its content."""
    sys.path.insert(0, str(WRITER.parent))
    try:
        import journal_writer
    finally:
        sys.path.remove(str(WRITER.parent))

    path = tmp_path / "state" / "journal.sqlite3"
    stderr = (tmp_path / "writer.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path)],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    printed: dict[int, int] = {}
    deployment_id = 0

    def take(line: str) -> None:
        nonlocal deployment_id
        head, value = line.split()
        if head == "deployment":
            deployment_id = int(value)
        else:
            printed[int(head)] = int(value)

    try:
        deadline = time.monotonic() + 60
        while len(printed) < 200:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"writer printed only {len(printed)} ids in 60 s"
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"writer exited early: {(tmp_path / 'writer.err').read_text()}")
            take(line)
        # Another process can read while the writer writes (WAL).
        with Journal(path) as reader:
            assert len(reader.events(deployment_id=deployment_id)) >= 200
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # Ids printed between our last read and the kill count too.
    pumper.join(timeout=30)
    while (line := lines.get(timeout=5)) is not None:
        take(line)

    redactor = Redactor([journal_writer.SECRET])
    with Journal(path) as j:
        stored = {e.id: e for e in j.events(deployment_id=deployment_id)}
    assert deployment_id and len(printed) >= 200
    for event_id, i in printed.items():
        event = stored.get(event_id)
        assert event is not None, f"event {event_id} (#{i}) was reported written but is gone"
        want = journal_writer.payload(i)
        assert event.message == redactor(str(want["message"]))
        assert event.argv == tuple(redactor(a) for a in want["argv"])  # type: ignore[attr-defined]
        assert event.output_tail == want["output_tail"]
        assert event.data == redactor.redact_obj(want["data"])
        assert (event.kind, event.host, event.step) == ("command", "web-1", "build")
        assert (event.exit_status, event.duration) == (want["exit_status"], want["duration"])
