"""Helper for the SIGKILL test: records events in a loop and prints each event's id
and sequence number to stdout (flushed) right after record() returned, i.e. after
the journal promised the event is durable. The test kills this process with
SIGKILL at an arbitrary moment and then checks every printed event is in the file.

Usage: python journal_writer.py JOURNAL_PATH [MAX_EVENTS]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Runnable as a plain script from any cwd: make the repo root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.core.journal import Journal
from tui.core.redact import Redactor

SECRET = "s3cret-value-for-test"


def payload(i: int) -> dict[str, object]:
    """What event number i holds; the test rebuilds it to compare."""
    return {
        "kind": "command",
        "host": "web-1",
        "step": "build",
        "message": f"event {i} password={SECRET}",
        "argv": ("echo", str(i), SECRET),
        "exit_status": i % 3,
        "duration": i / 10,
        "output_tail": f"line {i}\n" * 3,
        "data": {"i": i, "nested": [i, {"token": SECRET}]},
    }


def main() -> int:
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    journal = Journal(path, Redactor([SECRET]))
    deployment = journal.start_deployment("demo", "v1.1.0")
    print(f"deployment {deployment.id}", flush=True)
    for i in range(limit):
        event = journal.record(deployment_id=deployment.id, **payload(i))  # type: ignore[arg-type]
        print(f"{event.id} {i}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
