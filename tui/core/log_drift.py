"""Silent failures: log-template drift between the old release (baseline) and the new one.

A release can answer 200 and still be broken: it logs ``WARN price lookup failed for sku=1042,
using 0`` on every request, or its ``order placed`` line stops while traffic goes on. Lines are
mined into templates (log_templates.TemplateMiner) and counted per template over two windows:
the baseline (the old release's logs, read before DEPLOY) and the watch (since DEPLOY). Findings:

* ``new``: a WARN or ERROR template the baseline never had, seen at least ``new_min_count``
  times. Its rate is lines per minute since it first appeared (over at least a minute).
* ``rate``: a WARN/ERROR template of the baseline whose count rose significantly. Statistic:
  Poisson, ``scipy.stats.poisson.sf(count - 1, expected)`` with expected = baseline rate x watch
  exposure, scaled up (never down) by how much the other lines' rate grew (a busier hour is not
  a regression); a finding needs p < ``p_value``, the rate >= ``rate_factor`` x the (scaled)
  baseline rate and at least ``rate_min_count`` lines.
* ``vanished``: a template with a steady baseline (>= ``vanish_min_per_min`` per minute and
  >= ``vanish_min_count`` lines) unseen for at least ``vanish_window_s`` while the other lines
  kept coming (their rate since it was last seen >= ``traffic_floor`` x their baseline rate).
  Statistic: Poisson P(0 lines | expected), expected = its baseline share of the other lines x
  the other lines seen since; a finding needs P < ``p_value``.

Minimum data (else "no verdict", never a guess): a baseline of ``min_baseline_lines`` lines and
``min_baseline_s`` seconds (rates and vanished need the baseline's timestamps; without them only
``new`` is judged), a watch of ``min_watch_s`` seconds and ``min_watch_lines`` lines.

An alarm (``is_alarm``): a new ERROR template at >= ``new_templates_alarm`` lines per minute.

Pure: time comes in with the lines and as ``now``; the baseline serialises to JSON for the
journal. ``DriftWatch`` ties the miner, the two windows and the judgement together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from tui.core.log_buffer import ERROR, LEVEL_NAMES, WARN
from tui.core.log_filter import Classifier
from tui.core.log_templates import WILDCARD, Template, TemplateMiner, split_lines

NEW, RATE, VANISHED = "new", "rate", "vanished"
KINDS = (NEW, RATE, VANISHED)
# [policy.alarms] new_templates_alarm: a new ERROR template at this many lines per minute alarms.
NEW_TEMPLATES_ALARM = 5.0
# How much of the old release's logs the baseline reads (as watch.py: the last 10 minutes).
BASELINE_WINDOW_S = 600.0


@dataclass(frozen=True)
class DriftRules:
    """Thresholds and minimum data of the drift judgement (see the module docstring)."""

    min_baseline_lines: int = 30
    min_baseline_s: float = 120.0
    min_watch_s: float = 30.0
    min_watch_lines: int = 20
    new_min_count: int = 3
    p_value: float = 0.01
    rate_factor: float = 3.0
    rate_min_count: int = 5
    vanish_min_per_min: float = 1.0
    vanish_min_count: int = 10
    vanish_window_s: float = 60.0
    traffic_floor: float = 0.5

    def describe(self) -> list[str]:
        return [
            f"new WARN/ERROR template seen >= {self.new_min_count} times",
            f"WARN/ERROR template rate >= {self.rate_factor:g}x baseline, Poisson p <"
            f" {self.p_value:g}, >= {self.rate_min_count} lines",
            f"template of >= {self.vanish_min_per_min:g}/min (>= {self.vanish_min_count} lines)"
            f" unseen >= {self.vanish_window_s:g} s while traffic goes on, Poisson p <"
            f" {self.p_value:g}",
        ]


# ----------------------------------------------------------------------------- windows


class WindowEntry:
    """One template's lines in a window."""

    __slots__ = ("count", "example", "first_seen", "last_seen", "template", "total_at_last")

    def __init__(self, template: Template, ts: float, example: str) -> None:
        self.template = template
        self.count = 0
        self.first_seen = ts
        self.last_seen = ts
        self.example = example  # the first line of this template in the window (redacted)
        self.total_at_last = 0  # the window's line count just after its last line


class TemplateCounts:
    """Lines per template over one window (the baseline's or the watch's).

    ``start``: where the window begins (lines before it are not counted; None = from the first
    line). At most ``max_entries`` templates are counted one by one; lines of further ones count
    in ``total`` and ``overflow`` only."""

    def __init__(
        self,
        start: float | None = None,
        *,
        redact: Callable[[str], str] | None = None,
        max_entries: int = 5000,
        max_example_chars: int = 500,
    ) -> None:
        self.start = start
        self.redact = redact
        self.max_entries = max_entries
        self.max_example_chars = max_example_chars
        self.entries: dict[tuple[str, int], WindowEntry] = {}
        self.total = 0
        self.overflow = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None

    def add(
        self, template: Template, ts: float, level: int, message: str, line: str | None = None
    ) -> None:
        if self.start is not None and ts < self.start:
            return
        self.total += 1
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        key = (template.miner, template.id)
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= self.max_entries:
                self.overflow += 1
                return
            example = line if line is not None else f"{LEVEL_NAMES.get(level, level)} {message}"
            if len(example) > self.max_example_chars:
                example = example[: self.max_example_chars] + "…"
            if self.redact is not None:
                example = self.redact(example)
            entry = self.entries[key] = WindowEntry(template, ts, example)
        entry.count += 1
        if ts >= entry.last_seen:
            entry.last_seen = ts
            entry.total_at_last = self.total
        elif ts < entry.first_seen:
            entry.first_seen = ts


# ----------------------------------------------------------------------------- the baseline


@dataclass(frozen=True)
class BaselineTemplate:
    id: int
    level: int
    text: str
    count: int  # lines in the baseline window (0: seen only before it)
    example: str = ""
    # The live template (not serialised): while it lives, a line that did not join it is new.
    source: Template | None = field(default=None, compare=False, repr=False)

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(self.text.split(" ")) if self.text else ()


@dataclass(frozen=True)
class TemplateBaseline:
    """The old release's templates and their counts over ``start``..``end`` (epoch seconds;
    None when its lines had no timestamps: then there are no rates)."""

    templates: tuple[BaselineTemplate, ...] = ()
    lines: int = 0  # lines counted in the window
    start: float | None = None
    end: float | None = None
    miner: str = ""  # uid of the miner whose template ids these are
    _by_id: Mapping[int, BaselineTemplate] = field(default_factory=dict, compare=False, repr=False)
    _by_shape: Mapping[tuple[int, int], tuple[BaselineTemplate, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        shapes: dict[tuple[int, int], list[BaselineTemplate]] = {}
        for t in self.templates:
            shapes.setdefault((t.level, len(t.tokens)), []).append(t)
        object.__setattr__(self, "_by_id", {t.id: t for t in self.templates})
        object.__setattr__(self, "_by_shape", {k: tuple(v) for k, v in shapes.items()})

    @classmethod
    def from_counts(
        cls,
        counts: TemplateCounts,
        *,
        known: Iterable[Template] = (),
        start: float | None = None,
        end: float | None = None,
        timed: bool = True,
    ) -> TemplateBaseline:
        """Freeze a window's counts. ``known``: templates seen before the window (they are not
        new, at a count of 0). ``start``/``end`` default to the window's first and last line;
        ``timed`` False: the lines had no timestamps (no rates)."""
        seen: dict[tuple[str, int], BaselineTemplate] = {}
        miner = ""
        for entry in counts.entries.values():
            t = entry.template
            miner = t.miner
            seen[(t.miner, t.id)] = BaselineTemplate(
                t.id, t.level, t.text, entry.count, entry.example, t
            )
        for t in known:
            miner = miner or t.miner
            seen.setdefault(
                (t.miner, t.id), BaselineTemplate(t.id, t.level, t.text, 0, t.example, t)
            )
        if timed:
            start = counts.first_ts if start is None else start
            end = counts.last_ts if end is None else end
        else:
            start = end = None
        return cls(tuple(seen.values()), counts.total, start, end, miner)

    @property
    def span_s(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)

    @property
    def has_rates(self) -> bool:
        return self.span_s > 0

    def per_minute(self, entry: BaselineTemplate) -> float:
        span = self.span_s
        return entry.count * 60.0 / span if span > 0 else 0.0

    def match(self, template: Template) -> BaselineTemplate | None:
        """The baseline template a live one is: the same one (same miner and id), else one of
        the same level and length whose tokens agree wherever neither has ``<*>`` (a baseline
        read back from the journal, or a template the miner evicted and made again)."""
        same_miner = template.miner == self.miner
        if same_miner:
            hit = self._by_id.get(template.id)
            if hit is not None:
                return hit
        tokens = template.tokens
        for candidate in self._by_shape.get((template.level, len(tokens)), ()):
            if same_miner and candidate.source is not None and candidate.source.alive:
                continue  # the miner chose not to join it: a different template
            if all(
                a in (b, WILDCARD) or b == WILDCARD
                for a, b in zip(candidate.tokens, tokens, strict=True)
            ):
                return candidate
        return None

    def line(self) -> str:
        minutes = self.span_s / 60
        span = f" over {minutes:.1f} min" if self.has_rates else " (no timestamps)"
        return f"log templates: {len(self.templates)} from {self.lines} lines{span}"

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "start": self.start, "end": self.end, "miner": self.miner,
            "templates": [[t.id, t.level, t.text, t.count, t.example] for t in self.templates],
        }  # fmt: skip

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> TemplateBaseline:
        if not raw:
            return cls()
        templates = []
        for item in raw.get("templates") or ():
            try:
                tid, level, text, count, example = item
                templates.append(
                    BaselineTemplate(int(tid), int(level), str(text), int(count), str(example))
                )
            except (TypeError, ValueError):
                continue

        def num(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) else None

        return cls(tuple(templates), int(raw.get("lines") or 0), num(raw.get("start")),
                   num(raw.get("end")), str(raw.get("miner") or ""))  # fmt: skip


# ----------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class DriftFinding:
    kind: str  # new | rate | vanished
    template: str
    template_id: int
    level: int
    count: int  # lines of it in the watch window
    rate_before: float  # per minute, in the baseline
    rate_after: float  # per minute, in the watch
    example: str  # its first line in the watch (the baseline's for vanished), redacted
    first_seen: float | None  # its first line in the watch window
    last_seen: float | None
    p_value: float | None  # the Poisson test's (None for new)
    statistic: str  # what was tested, in words
    description: str  # one line

    @property
    def key(self) -> tuple[str, int]:
        """The same drift found again at a later round has the same key (the template's text
        may have grown a ``<*>`` meanwhile; its id has not)."""
        return (self.kind, self.template_id)

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))

    def line(self, alarm_per_min: float | None = None) -> str:
        alarm = alarm_per_min is not None and is_alarm(self, alarm_per_min)
        return f"{'alarm' if alarm else 'finding'}: {self.description}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "template": self.template, "template_id": self.template_id,
            "level": self.level_name, "count": self.count,
            "rate_before": round(self.rate_before, 3), "rate_after": round(self.rate_after, 3),
            "example": self.example, "first_seen": self.first_seen, "last_seen": self.last_seen,
            "p_value": self.p_value, "statistic": self.statistic,
            "description": self.description,
        }  # fmt: skip


def is_alarm(
    finding: DriftFinding, new_templates_alarm: float = NEW_TEMPLATES_ALARM, level: int = ERROR
) -> bool:
    """``[policy.alarms] new_templates_alarm``: a new template of at least ``level`` (ERROR; the
    ``new_templates_alarm_level`` key may lower it to WARN) at >= this many lines per minute
    turns its finding into an alarm (0 or less: never)."""
    return (
        new_templates_alarm > 0
        and finding.kind == NEW
        and finding.level >= level
        and finding.rate_after >= new_templates_alarm
    )


@dataclass(frozen=True)
class DriftReport:
    findings: tuple[DriftFinding, ...]
    verdict: str  # "drift" | "clean" | "no verdict"
    note: str  # one line: what was judged, or which data is short

    @property
    def judged(self) -> bool:
        return self.verdict != "no verdict"

    def alarms(
        self, new_templates_alarm: float = NEW_TEMPLATES_ALARM, level: int = ERROR
    ) -> list[DriftFinding]:
        return [f for f in self.findings if is_alarm(f, new_templates_alarm, level)]


def _clock(ts: float | None, tz: tzinfo) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _quote(text: str, limit: int = 160) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return '"' + text.replace('"', "'") + '"'


def _poisson_sf(count: int, expected: float) -> float:
    from scipy.stats import poisson  # heavy import: only when a test runs

    return float(poisson.sf(count - 1, expected))


def _poisson_none(expected: float) -> float:
    from scipy.stats import poisson

    return float(poisson.pmf(0, expected))


def find_drift(
    baseline: TemplateBaseline,
    watch: TemplateCounts,
    now: float,
    rules: DriftRules | None = None,
    *,
    watch_start: float | None = None,
    tz: tzinfo = UTC,
) -> DriftReport:
    """Findings of the watch window against the baseline at ``now`` (epoch seconds on the
    clock of the lines' timestamps). ``watch_start``: the deploy moment (default: the window's
    start, else its first line)."""
    rules = rules or DriftRules()
    t0 = watch_start if watch_start is not None else watch.start
    if t0 is None:
        t0 = watch.first_ts
    elapsed = now - t0 if t0 is not None else 0.0
    short = []
    if baseline.lines < rules.min_baseline_lines:
        short.append(f"baseline has {baseline.lines} lines (need {rules.min_baseline_lines})")
    elif baseline.has_rates and baseline.span_s < rules.min_baseline_s:
        short.append(
            f"baseline covers {_span(baseline.span_s)} (need {_span(rules.min_baseline_s)})"
        )
    if elapsed < rules.min_watch_s:
        short.append(f"watch ran {_span(max(0.0, elapsed))} (need {_span(rules.min_watch_s)})")
    if watch.total < rules.min_watch_lines:
        short.append(f"watch has {watch.total} lines (need {rules.min_watch_lines})")
    if short:
        return DriftReport((), "no verdict", "log drift: no verdict: " + "; ".join(short))

    # Watch entries per baseline template (a template may have been split or re-made).
    matched: dict[int, list[WindowEntry]] = {}
    new: list[WindowEntry] = []
    for entry in watch.entries.values():
        base = baseline.match(entry.template)
        if base is None:
            new.append(entry)
        else:
            matched.setdefault(id(base), []).append(entry)

    findings: list[DriftFinding] = []
    for entry in new:
        finding = _new_finding(entry, now, rules, tz)
        if finding is not None:
            findings.append(finding)
    judged = ["new"]
    if baseline.has_rates:
        judged += ["rate", "vanished"]
        for base in baseline.templates:
            entries = matched.get(id(base), [])
            for make in (_rate_finding, _vanished_finding):
                finding = make(base, entries, baseline, watch, t0, now, rules, tz)
                if finding is not None:
                    findings.append(finding)
    order = {k: i for i, k in enumerate(KINDS)}
    findings.sort(key=lambda f: (order[f.kind], -f.level, -f.count, f.template))
    verdict = "drift" if findings else "clean"
    note = (f"log drift: {len(findings)} finding(s)" if findings else "log drift: clean") + (
        f" ({', '.join(judged)} judged; baseline {baseline.lines} lines"
        f"{' over ' + _span(baseline.span_s) if baseline.has_rates else ', no timestamps'},"
        f" watch {watch.total} lines over {_span(elapsed)})"
    )
    return DriftReport(tuple(findings), verdict, note)


def _new_finding(
    entry: WindowEntry, now: float, rules: DriftRules, tz: tzinfo
) -> DriftFinding | None:
    t = entry.template
    if t.level < WARN or entry.count < rules.new_min_count:
        return None
    since = max(0.0, now - entry.first_seen)
    per_min = entry.count * 60.0 / max(60.0, since)
    description = (
        f"new {t.level_name} template {_quote(t.text)}: {entry.count} lines in {_span(since)},"
        f" first at {_clock(entry.first_seen, tz)}: {_quote(entry.example)}"
    )
    return DriftFinding(
        kind=NEW, template=t.text, template_id=t.id, level=t.level, count=entry.count,
        rate_before=0.0, rate_after=per_min, example=entry.example,
        first_seen=entry.first_seen, last_seen=entry.last_seen, p_value=None,
        statistic=f"count >= {rules.new_min_count} of a template the baseline lacks",
        description=description,
    )  # fmt: skip


def _others_scale(
    base_count: int, count: int, baseline: TemplateBaseline, watch: TemplateCounts, elapsed: float
) -> float:
    """How much faster the other lines come now than in the baseline (never below 1)."""
    before = (baseline.lines - base_count) / baseline.span_s
    after = (watch.total - count) / elapsed if elapsed > 0 else 0.0
    return max(1.0, after / before) if before > 0 else 1.0


def _rate_finding(
    base: BaselineTemplate,
    entries: Sequence[WindowEntry],
    baseline: TemplateBaseline,
    watch: TemplateCounts,
    t0: float,
    now: float,
    rules: DriftRules,
    tz: tzinfo,
) -> DriftFinding | None:
    if base.level < WARN or not entries:
        return None
    count = sum(e.count for e in entries)
    if count < rules.rate_min_count:
        return None
    elapsed = now - t0
    before = baseline.per_minute(base)
    # A template the baseline knew from before its window counts as one line in it.
    base_rate = max(base.count, 1) / baseline.span_s  # per second
    scale = _others_scale(base.count, count, baseline, watch, elapsed)
    expected = base_rate * elapsed * scale
    after = count * 60.0 / elapsed
    if after < rules.rate_factor * base_rate * 60.0 * scale:
        return None
    p = _poisson_sf(count, expected)
    if not p < rules.p_value:
        return None
    first = min(entries, key=lambda e: e.first_seen)
    text = max(entries, key=lambda e: e.count).template.text
    level = LEVEL_NAMES.get(base.level, str(base.level))
    busier = f", other traffic x{scale:.1f}" if scale > 1.0 else ""
    description = (
        f"{level} template {_quote(text)} rose from {before:.1f}/min to {after:.1f}/min"
        f" (Poisson p={p:.1g}{busier}): {count} lines in {_span(elapsed)},"
        f" first at {_clock(first.first_seen, tz)}: {_quote(first.example)}"
    )
    return DriftFinding(
        kind=RATE, template=text, template_id=first.template.id, level=base.level, count=count,
        rate_before=before, rate_after=after, example=first.example,
        first_seen=first.first_seen, last_seen=max(e.last_seen for e in entries), p_value=p,
        statistic=f"Poisson sf: {count} lines vs {expected:.2f} expected",
        description=description,
    )  # fmt: skip


def _vanished_finding(
    base: BaselineTemplate,
    entries: Sequence[WindowEntry],
    baseline: TemplateBaseline,
    watch: TemplateCounts,
    t0: float,
    now: float,
    rules: DriftRules,
    tz: tzinfo,
) -> DriftFinding | None:
    before = baseline.per_minute(base)
    if base.count < rules.vanish_min_count or before < rules.vanish_min_per_min:
        return None
    others_before = baseline.lines - base.count
    if others_before <= 0:
        return None
    if entries:
        last = max(entries, key=lambda e: e.last_seen)
        quiet_since, lines_since = last.last_seen, watch.total - last.total_at_last
    else:
        last, quiet_since, lines_since = None, t0, watch.total
    silence = now - quiet_since
    if silence < rules.vanish_window_s:
        return None
    # Traffic went on: the other lines kept at least traffic_floor of their baseline rate.
    if lines_since / silence < rules.traffic_floor * others_before / baseline.span_s:
        return None
    expected = base.count / others_before * lines_since
    p = _poisson_none(expected)
    if not p < rules.p_value:
        return None
    count = sum(e.count for e in entries)
    elapsed = now - t0
    text = last.template.text if last is not None else base.text
    level = LEVEL_NAMES.get(base.level, str(base.level))
    seen = f"last at {_clock(quiet_since, tz)}" if last is not None else "not seen since deploy"
    description = (
        f"{level} template {_quote(text)} vanished: {before:.1f}/min before, none for"
        f" {_span(silence)} ({seen}) while {lines_since} other lines arrived"
        f" (Poisson p={p:.1g}); before: {_quote(base.example)}"
    )
    return DriftFinding(
        kind=VANISHED, template=text,
        template_id=last.template.id if last is not None else base.id, level=base.level,
        count=count, rate_before=before,
        rate_after=count * 60.0 / elapsed if elapsed > 0 else 0.0, example=base.example,
        first_seen=min((e.first_seen for e in entries), default=None),
        last_seen=quiet_since if last is not None else None, p_value=p,
        statistic=f"Poisson P(0 lines | {expected:.2f} expected from its share of other lines)",
        description=description,
    )  # fmt: skip


# ----------------------------------------------------------------------------- the whole


class DriftWatch:
    """One miner, a baseline window and a watch window, judged on demand. No I/O.

    drift = DriftWatch(Classifier.from_config(config.logs), redact=redactor)
    drift.learn(tailed_lines, stream="out")        # per log file, before DEPLOY
    baseline = drift.freeze(now=tail_time)         # journal baseline.to_json()
    drift.start(deploy_time)
    drift.feed(new_lines, stream="out", arrival=t) # as lines arrive
    report = drift.report(now)                     # report.findings, report.alarms(5.0)
    """

    def __init__(
        self,
        classifier: Classifier | None = None,
        *,
        miner: TemplateMiner | None = None,
        rules: DriftRules | None = None,
        redact: Callable[[str], str] | None = None,
        tz: tzinfo = UTC,
        baseline: TemplateBaseline | None = None,
    ) -> None:
        self.classifier = classifier or Classifier()
        self.miner = miner or TemplateMiner(redact=redact)
        self.rules = rules or DriftRules()
        self.redact = redact
        self.tz = tz
        self._learned: list[tuple[Template, float | None, int, str]] = []
        self._cut_at: float | None = None  # the newest start of a tail cut short
        # A baseline read back from the journal (TemplateBaseline.from_json) may be given.
        self.baseline: TemplateBaseline | None = baseline
        self.watch: TemplateCounts | None = None
        self.latest_ts: float | None = None

    # -- baseline (old release)

    def learn(
        self,
        texts: Sequence[str],
        *,
        stream: str = "out",
        complete: bool = True,
        default_ts: float | None = None,
    ) -> None:
        """Lines of the old release (e.g. the tail of one log file). ``complete`` False: the
        tail was cut (the file had more lines), so the window starts no earlier than its first
        line."""
        first: float | None = None
        for ts, level, message in split_lines(
            texts, self.classifier, stream=stream, default_ts=default_ts, default_tz=self.tz
        ):
            template = self.miner.add(ts if ts is not None else 0.0, level, message)
            self._learned.append((template, ts, level, message))
            if ts is not None and (first is None or ts < first):
                first = ts
        if not complete and first is not None:
            self._cut_at = first if self._cut_at is None else max(self._cut_at, first)

    def learn_one(self, ts: float | None, level: int, message: str) -> None:
        """One old-release line already split (``ts`` None: it has no time)."""
        template = self.miner.add(ts if ts is not None else 0.0, level, message)
        self._learned.append((template, ts, level, message))

    def freeze(
        self, *, now: float | None = None, window_s: float = BASELINE_WINDOW_S
    ) -> TemplateBaseline:
        """The baseline: templates of every learned line; counts over the last ``window_s``
        up to ``now`` (default: the newest learned line)."""
        stamps = [ts for _, ts, _, _ in self._learned if ts is not None]
        counts = TemplateCounts(redact=self.redact)
        if stamps:
            end = now if now is not None else max(stamps)
            start = max(end - window_s, min(stamps))
            if self._cut_at is not None:
                start = max(start, self._cut_at)
            counts.start = start
            for template, ts, level, message in self._learned:
                if ts is not None and ts <= end:
                    counts.add(template, ts, level, message)
            known = [t for t, _, _, _ in self._learned]
            self.baseline = TemplateBaseline.from_counts(counts, known=known, start=start, end=end)
        else:  # no timestamps: the templates, without rates
            for template, _, level, message in self._learned:
                counts.add(template, 0.0, level, message)
            self.baseline = TemplateBaseline.from_counts(counts, timed=False)
        self._learned = []
        return self.baseline

    # -- watch (new release)

    def start(self, t0: float) -> None:
        """The deploy moment: lines from here on are the watch window."""
        self.watch = TemplateCounts(t0, redact=self.redact)

    def feed(self, texts: Sequence[str], *, stream: str = "out", arrival: float) -> None:
        """New lines (raw text or JSON); ``arrival`` is their time when they carry none."""
        watch = self.watch
        if watch is None:
            raise RuntimeError("DriftWatch.start(t0) first")
        add, count = self.miner.add, watch.add
        for ts, level, message in split_lines(
            texts, self.classifier, stream=stream, default_ts=arrival, default_tz=self.tz
        ):
            stamp = arrival if ts is None else ts
            count(add(stamp, level, message), stamp, level, message)
            if self.latest_ts is None or stamp > self.latest_ts:
                self.latest_ts = stamp

    def add(self, ts: float, level: int, message: str, line: str | None = None) -> None:
        """One line already split (time, level, message)."""
        if self.watch is None:
            raise RuntimeError("DriftWatch.start(t0) first")
        self.watch.add(self.miner.add(ts, level, message, line), ts, level, message, line)
        if self.latest_ts is None or ts > self.latest_ts:
            self.latest_ts = ts

    def report(self, now: float | None = None) -> DriftReport:
        """Findings so far. ``now`` on the lines' clock (default: the newest line's time)."""
        if self.baseline is None or self.watch is None:
            return DriftReport((), "no verdict", "log drift: no verdict: no baseline or no watch")
        if now is None:
            now = self.latest_ts if self.latest_ts is not None else self.watch.start or 0.0
        return find_drift(self.baseline, self.watch, now, self.rules, tz=self.tz)


__all__ = [
    "BASELINE_WINDOW_S",
    "KINDS",
    "NEW",
    "NEW_TEMPLATES_ALARM",
    "RATE",
    "VANISHED",
    "BaselineTemplate",
    "DriftFinding",
    "DriftReport",
    "DriftRules",
    "DriftWatch",
    "TemplateBaseline",
    "TemplateCounts",
    "WindowEntry",
    "find_drift",
    "is_alarm",
]
