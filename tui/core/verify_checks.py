"""The post-deploy checks as pure judgements: what came back -> a CheckResult.

The seed's post-deploy-check.sh, one function per check. The I/O (HTTP through the forward,
`pm2 jlist`, `tail` of the log files) lives in health.py and health_http.py; these functions only
judge, so they are easy to test and the workflow, the watch and `shipdeck verify` agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.backend import app_processes as _app_processes
from tui.core.config import HealthConfig
from tui.core.health_http import Probe
from tui.core.log_buffer import ERROR as ERROR_LEVEL
from tui.core.log_filter import Classifier
from tui.core.pm2 import Pm2Process, _find_json_array

PASS, FAIL, WARNING, INFO = "PASS", "FAIL", "WARNING", "INFO"
HEALTH, STATUS, ERRORS, PROCESSES, MEMORY = (
    "Health Check",
    "API Status",
    "Error Check",
    "Processes",
    "Memory Usage",
)

# The seed: `pm2 logs app --lines 100 | grep -c ...` and `-lt 5` -> PASS, else WARNING.
# Not config keys yet ([logs] has none); module defaults the Verifier takes as arguments.
ERROR_LOG_LINES = 100
ERROR_WARN_THRESHOLD = 5
MIB = 1024 * 1024


@dataclass(frozen=True)
class CheckResult:
    name: str  # HEALTH | STATUS | ERRORS | MEMORY | PROCESSES
    status: str  # PASS | FAIL | WARNING | INFO
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON-able

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def line(self) -> str:
        """The seed's shape: ``Health Check: PASS``, ``Error Check: WARNING (7 errors)``."""
        if self.status == INFO:
            return f"{self.name}: {self.detail}"
        if self.detail:
            return f"{self.name}: {self.status} ({self.detail})"
        return f"{self.name}: {self.status}"

    def event_data(self) -> dict[str, Any]:
        """What a ``check`` journal event of this result carries, whoever ran the check (VERIFY,
        `shipdeck verify`): the raw figures, then name, status and detail."""
        return {**dict(self.data), "name": self.name, "status": self.status, "detail": self.detail}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "data": dict(self.data),
            "line": self.line,
        }


def any_failed(results: Iterable[CheckResult]) -> bool:
    return any(r.status == FAIL for r in results)


def _attempts(probe: Probe) -> str:
    return f" after {probe.attempts} attempts" if probe.attempts > 1 else ""


def _probe_data(probe: Probe) -> dict[str, Any]:
    return {
        "url": probe.url,
        "status_code": probe.status_code,
        "latency_ms": probe.latency_ms,
        "attempts": probe.attempts,
    }


# ----------------------------------------------------------------------------------- HTTP


def judge_health(probe: Probe) -> CheckResult:
    data = _probe_data(probe)
    if not probe.answered:
        return CheckResult(HEALTH, FAIL, f"{probe.error}{_attempts(probe)}", data)
    if probe.status_code != 200:
        return CheckResult(HEALTH, FAIL, f"HTTP {probe.status_code}{_attempts(probe)}", data)
    return CheckResult(HEALTH, PASS, "", data)


_MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """``a.b.0.c`` into nested objects/arrays; ``_MISSING`` if any step is absent. "" = whole."""
    value = document
    for step in filter(None, path.split(".")):
        if isinstance(value, Mapping) and step in value:
            value = value[step]
        elif (
            isinstance(value, list)
            and step.lstrip("-").isdigit()
            and -len(value) <= int(step) < len(value)
        ):
            value = value[int(step)]
        else:
            return _MISSING
    return value


def as_text(value: Any) -> str:
    """Strings as they are; anything else as JSON (true, 1, null), to compare with config text."""
    return value if isinstance(value, str) else json.dumps(value)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judge_status(probe: Probe, health: HealthConfig) -> CheckResult:
    data = _probe_data(probe)
    if not probe.answered:
        return CheckResult(STATUS, FAIL, f"{probe.error}{_attempts(probe)}", data)
    if probe.status_code != 200:
        return CheckResult(STATUS, FAIL, f"HTTP {probe.status_code}{_attempts(probe)}", data)
    try:
        document = json.loads(probe.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        preview = _short(" ".join(probe.body.decode("utf-8", "replace").split()))
        return CheckResult(STATUS, FAIL, f"answer is not JSON: {preview!r}", data)
    version = json_path(document, health.version_path) if health.version_path else _MISSING
    if version is not _MISSING and version is not None:
        data["version"] = _short(as_text(version))
    value = json_path(document, health.status_path)
    if value is _MISSING:
        return CheckResult(STATUS, FAIL, f"no {health.status_path!r} in the answer", data)
    text = _short(as_text(value))
    data["value"] = text
    if as_text(value) != health.status_expected:
        detail = f"{health.status_path} is {text!r}, expected {health.status_expected!r}"
        return CheckResult(STATUS, FAIL, detail, data)
    detail = f"version {data['version']}" if "version" in data else ""
    return CheckResult(STATUS, PASS, detail, data)


# ------------------------------------------------------------------------------ pm2 + logs


@dataclass(frozen=True)
class Heap:
    used_mib: float | None
    total_mib: float | None


def parse_heaps(jlist_text: str) -> dict[int, Heap]:
    """pm_id -> heap, from pm2's ``axm_monitor`` ("Used Heap Size"/"Heap Size", in MiB).

    pm2 reports it only for Node apps its agent instruments (cluster mode does by default);
    Pm2Process does not carry it, so it is read from the same jlist text here.
    """
    heaps: dict[int, Heap] = {}
    for raw in _find_json_array(jlist_text):
        if not isinstance(raw, dict):
            continue
        env = raw.get("pm2_env") or {}
        axm = env.get("axm_monitor") if isinstance(env, dict) else None
        if not isinstance(axm, dict):
            continue
        used, total = _metric(axm, "Used Heap Size"), _metric(axm, "Heap Size")
        if (used is not None or total is not None) and isinstance(raw.get("pm_id"), int):
            heaps[raw["pm_id"]] = Heap(used, total)
    return heaps


def _metric(axm: Mapping[str, Any], key: str) -> float | None:
    entry = axm.get(key)
    value = entry.get("value") if isinstance(entry, dict) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def app_processes(processes: Iterable[Pm2Process], app: str) -> list[Pm2Process]:
    """The app's processes: named ``app``, or started by shipdeck for it (every app of its
    ecosystem file: a crash-looping worker beside the web app counts too)."""
    return _app_processes(list(processes), app)


def label(p: Pm2Process) -> str:
    return f"{p.name}#{p.pm_id}"


def log_files(processes: Iterable[Pm2Process]) -> list[str]:
    """Each out and err log once (merged logs share a file), in pm_id order."""
    seen: dict[str, None] = {}
    for p in processes:
        for path in (p.out_log, p.err_log):
            if path and path != "/dev/null":
                seen.setdefault(path, None)
    return list(seen)


@dataclass(frozen=True)
class LogTail:
    path: str
    lines: tuple[str, ...] = ()
    error: str = ""  # one line when the file could not be read
    stream: str = "out"  # "err": pm2's error log (its lines are errors unless they say less)


def judge_errors(
    tails: Sequence[LogTail],
    pattern: str | Classifier,
    *,
    lines: int = ERROR_LOG_LINES,
    threshold: int = ERROR_WARN_THRESHOLD,
) -> CheckResult:
    """Error lines in the tails: lines the Classifier puts at ERROR or worse (a JSON line by its
    level field, a text line by ``[logs] error_pattern``, stderr by ``stderr_is_error``); a bare
    regex counts the lines it matches (JSON lines by their level field)."""
    classifier = Classifier.of(pattern)
    files: dict[str, dict[str, Any]] = {}
    total = 0
    for tail in tails:
        if tail.error:
            files[tail.path] = {"error": tail.error}
            continue
        levels = classifier.levels(list(tail.lines), tail.stream)
        count = sum(1 for level in levels if level >= ERROR_LEVEL)
        files[tail.path] = {"lines": len(tail.lines), "errors": count, "stream": tail.stream}
        total += count
    data: dict[str, Any] = {
        "errors": total,
        "threshold": threshold,
        "lines": lines,
        "pattern": classifier.error.pattern,
        "files": files,
    }
    unread = [t for t in tails if t.error]
    if not tails:
        return CheckResult(ERRORS, WARNING, "no log files to read", data)
    if len(unread) == len(tails):
        return CheckResult(ERRORS, WARNING, f"cannot read logs: {unread[0].error}", data)
    noun = "error" if total == 1 else "errors"
    suffix = f"; {len(unread)} log file(s) unreadable" if unread else ""
    if total >= threshold:
        return CheckResult(ERRORS, WARNING, f"{total} {noun} detected{suffix}", data)
    return CheckResult(ERRORS, PASS, f"{total} {noun}{suffix}", data)


def judge_processes(
    processes: Sequence[Pm2Process],
    app: str,
    restarts_baseline: Mapping[int, int] | None = None,
) -> CheckResult:
    mine = app_processes(processes, app)
    data: dict[str, Any] = {
        "processes": [{"name": p.name, "pm_id": p.pm_id, "status": p.status,
                       "restarts": p.restarts, "version": p.version} for p in mine]
    }  # fmt: skip
    if not mine:
        return CheckResult(PROCESSES, FAIL, f"no pm2 process named {app!r}", data)
    problems = [f"{label(p)} {p.status}" for p in mine if p.status != "online"]
    if restarts_baseline is not None:
        data["restarts_baseline"] = {str(k): v for k, v in restarts_baseline.items()}
        for p in mine:
            # A process that did not exist at the baseline (scaled up) started from 0.
            before = restarts_baseline.get(p.pm_id, 0)
            if p.restarts > before:
                problems.append(f"{label(p)} restarted {p.restarts - before}x since deploy")
    if len({p.version for p in mine if p.version}) > 1:
        # Half the requests get another release: a reload cut short or one worker restarted
        # onto a moved `current`. Health and status may still pass on the worker that answers.
        problems.append("mixed versions: " + ", ".join(f"{label(p)} {p.version}" for p in mine))
    if problems:
        return CheckResult(PROCESSES, FAIL, ", ".join(problems), data)
    return CheckResult(PROCESSES, PASS, f"{len(mine)} online", data)


def _mb(value_bytes: int) -> str:
    return f"{value_bytes / MIB:.1f}MB"


def memory_usage(
    processes: Sequence[Pm2Process], app: str, heaps: Mapping[int, Heap]
) -> CheckResult:
    mine = app_processes(processes, app)
    parts, rows = [], []
    for p in mine:
        row: dict[str, Any] = {
            "pm_id": p.pm_id, "memory_bytes": p.memory_bytes, "cpu_percent": p.cpu_percent
        }
        text = (
            f"{label(p)} {_mb(p.memory_bytes)}"
            if p.status == "online"
            else (f"{label(p)} {p.status}")
        )
        heap = heaps.get(p.pm_id)
        if heap is not None:
            row.update(heap_used_mib=heap.used_mib, heap_total_mib=heap.total_mib)
            used = f"{heap.used_mib:.1f}" if heap.used_mib is not None else "?"
            total = f"{heap.total_mib:.1f}" if heap.total_mib is not None else "?"
            text += f" (heap {used}/{total}MB)"
        parts.append(text)
        rows.append(row)
    detail = ", ".join(parts) if parts else f"no pm2 process named {app!r}"
    return CheckResult(MEMORY, INFO, detail, {"processes": rows})


def unavailable(reason: str) -> list[CheckResult]:
    """Error Check, Processes and Memory Usage when pm2 itself could not be read."""
    return [
        CheckResult(ERRORS, WARNING, f"cannot read logs: {reason}"),
        CheckResult(PROCESSES, FAIL, reason),
        CheckResult(MEMORY, INFO, "unavailable"),
    ]


def restart_counts(processes: Iterable[Pm2Process], app: str) -> dict[int, int]:
    """The baseline for ``restarts_baseline``: pm_id -> restarts, taken right after DEPLOY."""
    return {p.pm_id: p.restarts for p in app_processes(processes, app)}
