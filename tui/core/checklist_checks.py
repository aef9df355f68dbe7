"""The automated checks of the checklist, one async function per item.

Each takes a ``CheckContext`` and returns a ``Verdict``. Judges are the three the issue names:
exit status, a regex over the output, a number against a budget. Code and build checks run in a
checkout (``Site``: on the jump host, or the release built on the target); environment checks
run on the target. Nothing here reads an environment variable's VALUE: names are extracted on
the host, so only names cross the link.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_state import Scope
from tui.core.config import Config
from tui.core.health_http import http_get
from tui.core.iac_plan import judge_plan, parse_plan
from tui.core.journal import Journal
from tui.core.notify import LABELS, delivered_notifications
from tui.core.transport import CommandTimeout, Result, Transport, TransportError
from tui.core.transport_errors import one_line
from tui.core.verify_checks import _MISSING as _JSON_MISSING
from tui.core.verify_checks import as_text, json_path

# Timeouts, commands and patterns of the checks are [checklist] keys (config_models).
CONSOLE_LOG_RE = r"console\.log[[:space:]]*\("  # grep -E, not a Python regex
# "3 warnings" / "no warnings" are tallies, not warnings of their own.
WARNING_TALLY_RE = re.compile(r"(?i)\b(\d+|no) warnings?\b")
MAX_LISTED = 8


@dataclass(frozen=True)
class Verdict:
    state: ItemState
    summary: str = ""
    detail: str = ""
    signable: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Site:
    """A checkout to run code checks in: ``workdir`` as seen by ``transport``."""

    transport: Transport
    workdir: str
    where: str  # for messages: "jump host ~/src/shop" or "web1:/srv/shop/releases/20260101"


@dataclass
class CheckContext:
    config: Config
    journal: Journal
    scope: Scope
    site: Site | None
    site_problem: str  # why there is no site, when site is None
    target: Transport | None  # the primary host, for environment checks
    target_dir: str  # the app's directory on the target (the release being deployed or live)
    clock: Callable[[], float] = time.time
    console: bool = False
    _package: dict[str, Any] | None = None
    _build: asyncio.Future[Result | Verdict] | None = None

    def build_future(self) -> asyncio.Future[Result | Verdict]:
        if self._build is None:
            self._build = asyncio.get_running_loop().create_future()
        return self._build


class CheckAbort(Exception):
    """A check cannot go on; carries the verdict to report."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.summary)
        self.verdict = verdict


def _output(result: Result) -> str:
    out, err = result.stdout.rstrip("\n"), result.stderr.rstrip("\n")
    return "\n".join(x for x in (out, err) if x)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def _limit(ctx: CheckContext, cap: float | None = None) -> float:
    """The time a command of a check may take: [checklist] check_timeout_s, or less."""
    limit = ctx.config.checklist.check_timeout_s
    return limit if cap is None else min(cap, limit)


async def _run(
    transport: Transport,
    argv: Sequence[str],
    *,
    cwd: str | None,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Result:
    try:
        return await transport.run(list(argv), cwd=cwd, timeout=timeout, env=env)
    except CommandTimeout as err:
        raise CheckAbort(
            Verdict(ItemState.FAIL, f"timed out after {timeout:g}s", str(err))
        ) from None
    except TransportError as err:
        raise CheckAbort(Verdict(ItemState.FAIL, one_line(err))) from None


def _site(ctx: CheckContext) -> Site:
    if ctx.site is None:
        raise CheckAbort(Verdict(ItemState.FAIL, ctx.site_problem or "no checkout to check"))
    return ctx.site


async def _package(ctx: CheckContext) -> dict[str, Any]:
    if ctx._package is None:
        site = _site(ctx)
        result = await _run(
            site.transport, ["cat", "package.json"], cwd=site.workdir, timeout=_limit(ctx, 30)
        )
        if not result.ok:
            raise CheckAbort(Verdict(ItemState.FAIL, f"no package.json in {site.where}"))
        try:
            parsed = json.loads(result.stdout)
        except ValueError as err:
            raise CheckAbort(Verdict(ItemState.FAIL, f"package.json: {one_line(err)}")) from None
        ctx._package = parsed if isinstance(parsed, dict) else {}
    return ctx._package


async def _script(ctx: CheckContext, item: ChecklistItem, name: str) -> None:
    scripts = (await _package(ctx)).get("scripts") or {}
    if name not in scripts:
        raise CheckAbort(Verdict(
            ItemState.FAIL,
            f"package.json has no {name!r} script (add one, or list {item.id!r} in "
            "[checklist] optional)",
        ))  # fmt: skip


def _exit_verdict(result: Result, passed: str = "exit 0", detail: str | None = None) -> Verdict:
    text = _output(result) if detail is None else detail
    if result.ok:
        return Verdict(ItemState.PASS, passed, text, data={"exit_status": 0})
    why = _last_line(text)
    summary = f"exit {result.exit_status}" + (f": {why}" if why else "")
    return Verdict(ItemState.FAIL, summary, text, data={"exit_status": result.exit_status})


# -- Code Quality -----------------------------------------------------------------------------


_TEST_COUNTS = (
    re.compile(r"^# (pass|fail) (\d+)$", re.M),  # node --test (TAP)
    re.compile(r"Tests:\s+(.*)$", re.M),  # jest
    re.compile(r"(\d+) (passing|failing)", re.M),  # mocha
)


def _test_counts(text: str) -> str:
    tap = dict(_TEST_COUNTS[0].findall(text))
    if tap:
        return f"{tap.get('pass', '0')} passed, {tap.get('fail', '0')} failed"
    jest = _TEST_COUNTS[1].findall(text)
    if jest:
        return jest[-1].strip()
    mocha = _TEST_COUNTS[2].findall(text)
    return ", ".join(f"{n} {w}" for n, w in mocha)


async def check_tests(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await _script(ctx, item, "test")
    site = _site(ctx)
    result = await _run(site.transport, ["npm", "test"], cwd=site.workdir, timeout=_limit(ctx),
                        env={"CI": "true"})  # fmt: skip
    text = _output(result)
    counts = _test_counts(text)
    verdict = _exit_verdict(result, counts or "exit 0", text)
    if not result.ok and counts:
        return Verdict(
            ItemState.FAIL, f"exit {result.exit_status}: {counts}", text, data=verdict.data
        )
    return verdict


_PROBLEMS = re.compile(r"(\d+) problems?")


async def check_lint(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await _script(ctx, item, "lint")
    site = _site(ctx)
    result = await _run(site.transport, ["npm", "run", "lint"], cwd=site.workdir,
                        timeout=_limit(ctx))  # fmt: skip
    text = _output(result)
    found = _PROBLEMS.findall(text)
    if not result.ok and found:
        return Verdict(ItemState.FAIL, f"{found[-1]} problem(s): {_last_line(text)}", text)
    return _exit_verdict(result, "no lint errors", text)


_TS_ERROR = re.compile(r"^(.+?)\((\d+),\d+\): error (TS\d+)", re.M)


async def check_typescript(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    site = _site(ctx)
    probe = await _run(
        site.transport, ["test", "-f", "tsconfig.json"], cwd=site.workdir, timeout=_limit(ctx, 30)
    )
    if not probe.ok:
        return Verdict(ItemState.SKIPPED, "no tsconfig.json: not a TypeScript project")
    argv = ctx.config.checklist.tsc_command
    if not argv:
        return Verdict(ItemState.SKIPPED, "no [checklist] tsc_command configured")
    result = await _run(site.transport, argv, cwd=site.workdir, timeout=_limit(ctx))
    text = _output(result)
    errors = _TS_ERROR.findall(text)
    if result.ok:
        return Verdict(ItemState.PASS, "tsc --noEmit: no errors", text)
    if errors:
        where = ", ".join(f"{f}:{ln} {code}" for f, ln, code in errors[:MAX_LISTED])
        more = f" and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        return Verdict(ItemState.FAIL, f"{len(errors)} error(s): {where}{more}", text,
                       data={"errors": len(errors)})  # fmt: skip
    return _exit_verdict(result, detail=text)


def _hits_summary(hits: list[str]) -> str:
    shown = ", ".join(hits[:MAX_LISTED])
    return shown + (f" and {len(hits) - MAX_LISTED} more" if len(hits) > MAX_LISTED else "")


async def check_console_log(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    site = _site(ctx)
    dirs = list(ctx.config.checklist.source_dirs)
    found = await _run(
        site.transport,
        ["find", *dirs, "-maxdepth", "0", "-type", "d"],
        cwd=site.workdir,
        timeout=_limit(ctx, 30),
    )
    present = [d for d in dirs if d.rstrip("/") in {x.rstrip("/") for x in found.stdout.split()}]
    if not present:
        return Verdict(ItemState.FAIL, f"no source dir found ({', '.join(dirs)}) in {site.where}")
    includes = [f"--include=*.{ext}" for ext in ctx.config.checklist.source_extensions]
    argv = [
        "grep",
        "-rnIE",
        *includes,
        "--exclude-dir=node_modules",
        CONSOLE_LOG_RE,
        "--",
        *present,
    ]
    result = await _run(site.transport, argv, cwd=site.workdir, timeout=_limit(ctx, 120))
    if result.exit_status == 1:
        return Verdict(ItemState.PASS, f"none in {', '.join(present)}")
    if result.exit_status != 0:
        return Verdict(ItemState.FAIL, f"grep failed: {_last_line(result.stderr)}", _output(result))
    hits = []
    for line in result.stdout.splitlines():
        path, _, rest = line.partition(":")
        lineno = rest.partition(":")[0]
        if path and lineno.isdigit():
            hits.append(f"{path}:{lineno}")
    return Verdict(ItemState.FAIL, _hits_summary(hits), result.stdout, data={"hits": hits})


# -- Build ------------------------------------------------------------------------------------


async def check_build(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    future = ctx.build_future()
    try:
        argv = ctx.config.steps.build.build
        if tuple(argv[:2]) == ("npm", "run") and len(argv) > 2:
            await _script(ctx, item, argv[2])
        site = _site(ctx)
        result = await _run(
            site.transport, argv, cwd=site.workdir, timeout=ctx.config.steps.build.timeout_s
        )
    except CheckAbort as err:
        if not future.done():
            future.set_result(err.verdict)
        raise
    if not future.done():
        future.set_result(result)
    return _exit_verdict(result, "built", _output(result))


async def _build_result(ctx: CheckContext) -> Result:
    got = await asyncio.shield(ctx.build_future())
    if isinstance(got, Verdict) or not got.ok:
        raise CheckAbort(Verdict(ItemState.FAIL, "no build to judge: the production build failed"))
    return got


def count_warnings(text: str, pattern: str) -> list[str]:
    """The warning lines (``pattern``) of a build's output; a tally ("2 warnings") alone counts
    as that many when the build printed no warning lines of its own."""
    warning = re.compile(pattern)
    found = [ln.strip() for ln in text.splitlines()
             if warning.search(ln) and not WARNING_TALLY_RE.search(ln)]  # fmt: skip
    if found:
        return found
    tallies = [ln.strip() for ln in text.splitlines() if WARNING_TALLY_RE.search(ln)]
    counts = [int(m.group(1)) for ln in tallies for m in WARNING_TALLY_RE.finditer(ln)
              if m.group(1).isdigit()]  # fmt: skip
    return tallies[-1:] * max(counts, default=0)


async def check_build_warnings(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    result = await _build_result(ctx)
    warnings = count_warnings(_output(result), ctx.config.checklist.warning_pattern)
    if not warnings:
        return Verdict(ItemState.PASS, "0 warnings", data={"warnings": 0})
    return Verdict(
        ItemState.FAIL, f"{len(warnings)} warning(s): {warnings[0][:120]}", "\n".join(warnings),
        data={"warnings": len(warnings)},
    )  # fmt: skip


async def check_bundle_size(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await _build_result(ctx)
    site = _site(ctx)
    build_dir = ctx.config.checklist.build_dir
    result = await _run(
        site.transport, ["find", build_dir, "-type", "f", "-printf", r"%s\t%P\n"],
        cwd=site.workdir, timeout=_limit(ctx, 60),
    )  # fmt: skip
    if not result.ok:
        return Verdict(ItemState.FAIL, f"no build output in {build_dir}/", _output(result))
    files = []
    for line in result.stdout.splitlines():
        size, _, name = line.partition("\t")
        if size.isdigit():
            files.append((int(size), name))
    total = sum(s for s, _ in files)
    kb = math.ceil(total / 1024)
    budget = ctx.config.checklist.bundle_budget_kb
    files.sort(reverse=True)
    largest = ", ".join(f"{n} {math.ceil(s / 1024)} KB" for s, n in files[:3])
    detail = "\n".join(f"{math.ceil(s / 1024):>8} KB  {n}" for s, n in files)
    data = {"kb": kb, "budget_kb": budget, "files": len(files)}
    if kb > budget:
        return Verdict(ItemState.FAIL, f"{kb} KB > {budget} KB budget (largest: {largest})",
                       detail, data=data)  # fmt: skip
    return Verdict(ItemState.PASS, f"{kb} KB of {budget} KB budget", detail, data=data)


# -- Environment ------------------------------------------------------------------------------

# Runs on the host: prints the env NAMES of the app's pm2 processes, one per line. Values stay
# on the host. pm2 may print a banner before the JSON, hence the search for the array.
_PM2_ENV_NAMES_JS = r"""
const {execFileSync} = require('child_process');
const [pm2, app] = process.argv.slice(1);
const opts = {maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore']};
const out = execFileSync(pm2, ['jlist'], opts).toString();
let procs = null;
for (let i = out.indexOf('['); i >= 0 && procs === null; i = out.indexOf('[', i + 1)) {
  try { procs = JSON.parse(out.slice(i)); } catch (e) {}
}
const names = new Set();
for (const p of procs || []) {
  if (p.name !== app) continue;
  const env = (p.pm2_env && p.pm2_env.env) || {};
  for (const k of Object.keys(env)) names.add(k);
}
const count = (procs || []).filter(p => p.name === app).length;
console.log(JSON.stringify({processes: count, names: [...names]}));
"""

_DOTENV_NAMES = r"s/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=.*/\2/p"


async def env_names_on_target(ctx: CheckContext) -> tuple[set[str], list[str]]:
    """(names found, where they were looked for). Only names leave the host."""
    target = ctx.target
    if target is None:
        raise CheckAbort(Verdict(ItemState.FAIL, "no target host"))
    app = ctx.config.app
    env = {"PM2_HOME": app.pm2_home} if app.pm2_home else None
    names: set[str] = set()
    where: list[str] = []
    pm2 = await _run(target, ["node", "-e", _PM2_ENV_NAMES_JS, app.pm2_bin, app.name],
                     cwd=None, env=env, timeout=_limit(ctx, 60))  # fmt: skip
    if pm2.ok:
        try:
            doc = json.loads(pm2.stdout.strip().splitlines()[-1])
            names |= {str(n) for n in doc.get("names", [])}
            where.append(f"pm2 env of {doc.get('processes', 0)} {app.name} process(es)")
        except (ValueError, IndexError, AttributeError):
            where.append("pm2 env (unreadable)")
    dotenv = f"{ctx.target_dir.rstrip('/')}/.env"
    res = await _run(target, ["sed", "-n", "-E", _DOTENV_NAMES, dotenv], cwd=None,
                     timeout=_limit(ctx, 30))  # fmt: skip
    if res.ok:
        names |= set(res.stdout.split())
        where.append(dotenv)
    return names, where


async def check_env_vars(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    wanted = list(ctx.config.checklist.env_vars)
    if not wanted:
        return Verdict(ItemState.SKIPPED, "no [checklist] env_vars configured")
    names, where = await env_names_on_target(ctx)
    if not where:
        return Verdict(ItemState.FAIL, "neither pm2 env nor a .env file could be read")
    missing = [n for n in wanted if n not in names]
    looked = "; ".join(where)
    detail = "\n".join(f"{n}: {'present' if n in names else 'MISSING'}" for n in wanted)
    detail += f"\nlooked in: {looked}"
    if missing:
        return Verdict(ItemState.FAIL, f"missing: {', '.join(missing)}", detail,
                       data={"missing": missing})  # fmt: skip
    return Verdict(ItemState.PASS, f"{len(wanted)} present", detail)


async def check_secrets(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    files = list(ctx.config.checklist.secret_files)
    if not files:
        return Verdict(ItemState.SKIPPED, "no [checklist] secret_files configured")
    if ctx.target is None:
        return Verdict(ItemState.FAIL, "no target host")
    res = await _run(ctx.target, ["stat", "-c", "%Y %n", "--", *files], cwd=None,
                     timeout=_limit(ctx, 30))  # fmt: skip
    mtimes: dict[str, float] = {}
    for line in res.stdout.splitlines():
        stamp, _, name = line.partition(" ")
        if stamp.isdigit():
            mtimes[name] = float(stamp)
    max_days = ctx.config.checklist.secret_max_age_days
    now = ctx.clock()
    problems, lines = [], []
    for path in files:
        if path not in mtimes:
            problems.append(f"{path} missing")
            lines.append(f"{path}: cannot stat")
            continue
        days = (now - mtimes[path]) / 86400
        lines.append(f"{path}: {days:.0f} days old")
        if days > max_days:
            problems.append(f"{path} is {days:.0f} days old")
    if problems:
        return Verdict(ItemState.FAIL, f"{'; '.join(problems)} (max {max_days} days)",
                       "\n".join(lines))  # fmt: skip
    return Verdict(ItemState.PASS, f"{len(files)} file(s) younger than {max_days} days",
                   "\n".join(lines))  # fmt: skip


def npm_script(argv: Sequence[str]) -> str | None:
    """The script an ``npm run [flags] NAME`` command runs, else None."""
    if len(argv) < 3 or argv[0] != "npm" or argv[1] not in ("run", "run-script"):
        return None
    return next((a for a in argv[2:] if not a.startswith("-")), None)


async def check_migrations(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    cfg = ctx.config
    if not cfg.database.enabled and not cfg.steps.build.migrate:
        return Verdict(ItemState.SKIPPED, "no database or migrate command configured")
    argv = cfg.checklist.migrations_status
    script = npm_script(argv)
    if not argv or (script and script not in ((await _package(ctx)).get("scripts") or {})):
        what = f"no {script!r} script" if argv else "no [checklist] migrations_status command"
        return Verdict(
            ItemState.PENDING,
            f"{what} to list pending migrations: sign off after reviewing them",
            signable=True,
        )
    site = _site(ctx)
    result = await _run(site.transport, argv, cwd=site.workdir, timeout=_limit(ctx))
    text = _output(result)
    if not result.ok:
        return _exit_verdict(result, detail=text)
    pending_re = re.compile(cfg.checklist.migrations_pending_pattern)
    pending = [ln.strip() for ln in result.stdout.splitlines() if pending_re.search(ln)]
    if not pending:
        return Verdict(ItemState.PASS, "no pending migrations", text)
    return Verdict(ItemState.PASS, f"{len(pending)} pending: {_hits_summary(pending)}", text,
                   data={"pending": pending})  # fmt: skip


_FLAGS_MAX_BYTES = 1 << 20  # a flags file or answer is small; more is not what we want


def parse_flags(text: str) -> Any:
    """A flags document: JSON when it starts with ``{`` or ``[``, else ``KEY=VALUE`` lines
    (``export``, quotes and ``#`` comments as in a .env file). Raises ValueError for bad JSON."""
    if text.lstrip()[:1] in ("{", "["):
        return json.loads(text)
    flags: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            flags[key] = value
    return flags


def flag_value(document: Any, name: str) -> Any:
    """``name`` as a key of its own ("checkout.v2": true), else as a dotted path into nested
    objects; ``_NO_FLAG`` when it is not there."""
    if isinstance(document, Mapping) and name in document:
        return document[name]
    found = json_path(document, name)
    return _NO_FLAG if found is _JSON_MISSING else found


_NO_FLAG = object()


def _masked(redact: Callable[[str], str], name: str, value: str) -> str:
    line = f"{name}={value}"
    return value if redact(line) == line else "***"


def _shown(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


async def _read_flags(ctx: CheckContext, source: str) -> tuple[str, str]:
    """(the text, where it came from): a file on the primary host or a URL as it sees it."""
    target = ctx.target
    if target is None:
        raise CheckAbort(Verdict(ItemState.FAIL, "no target host to read the flags on"))
    if "://" in source:
        health = ctx.config.health
        probe = await http_get(source, target, timeout_s=health.timeout_s, retries=health.retries)
        if not probe.answered:
            raise CheckAbort(Verdict(ItemState.FAIL, probe.error))
        if probe.status_code != 200:
            raise CheckAbort(Verdict(ItemState.FAIL, f"HTTP {probe.status_code} from {source}"))
        return probe.body.decode("utf-8", "replace"), source
    path = source if source.startswith("/") else f"{ctx.target_dir.rstrip('/')}/{source}"
    where = f"{target.host.name}:{path}"
    argv = ["head", "-c", str(_FLAGS_MAX_BYTES + 1), "--", path]
    result = await _run(target, argv, cwd=None, timeout=_limit(ctx, 30))
    if not result.ok:
        why = _last_line(result.stderr) or f"exit {result.exit_status}"
        raise CheckAbort(Verdict(ItemState.FAIL, f"cannot read {where}: {why}"))
    if len(result.stdout.encode()) > _FLAGS_MAX_BYTES:
        raise CheckAbort(Verdict(ItemState.FAIL, f"{where} is larger than 1 MB"))
    return result.stdout, where


def _secret_flag(name: str, got: str | None, expected: str) -> tuple[str, str]:
    """(the problem or "", the detail line) for a flag whose name is a secret's."""
    if got is None:
        return f"{name} is missing", f"{name} is MISSING"
    if got != expected:
        return f"{name} differs from the expected value (values masked)", f"{name} MISMATCH"
    return "", f"{name} matches (values masked): ok"


async def check_feature_flags(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    """The flags in ``feature_flags_source`` compared, as text, with [checklist.feature_flags].
    Only the configured flags are kept; values the journal's redactor would hide are masked."""
    cfg = ctx.config.checklist
    wanted = dict(cfg.feature_flags)
    if not wanted or not cfg.feature_flags_source:
        return Verdict(ItemState.SKIPPED, "no [checklist.feature_flags] configured")
    text, where = await _read_flags(ctx, cfg.feature_flags_source)
    try:
        document = parse_flags(text)
    except ValueError as err:
        return Verdict(ItemState.FAIL, f"{where}: not valid JSON ({one_line(err)})")
    redact = ctx.journal.redactor
    problems, lines = [], []
    for name, expected in wanted.items():
        value = flag_value(document, name)
        got = None if value is _NO_FLAG else as_text(value)
        # Shown as the redactor would show them in a .env line: a flag named like a secret
        # (api_key, token, ...) or holding a secret value is masked, expected value included.
        show_expected, show_got = (_masked(redact, name, v) for v in (expected, got or ""))
        if redact(f"{name}: x") != f"{name}: x":
            # The name alone makes the journal mask what follows "name: ", so say it without
            # that shape, or "missing" and "expected" would be masked too.
            problems_line, line = _secret_flag(name, got, expected)
            if problems_line:
                problems.append(problems_line)
            lines.append(line)
            continue
        if got is None:
            problems.append(f"{name}: missing")
            lines.append(f"{name}: MISSING (expected {show_expected})")
        elif got != expected:
            problems.append(f"{name}: expected {_shown(show_expected)}, got {_shown(show_got)}")
            lines.append(f"{name} = {show_got}: MISMATCH (expected {show_expected})")
        else:
            lines.append(f"{name} = {show_got}: ok")
    lines.append(f"read from: {where}")
    data = {"source": where, "flags": len(wanted), "mismatches": len(problems)}
    if problems:
        summary = "; ".join(problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            summary += f" and {len(problems) - MAX_LISTED} more"
        return Verdict(ItemState.FAIL, summary, "\n".join(lines), data=data)
    return Verdict(ItemState.PASS, f"{len(wanted)} flag(s) as expected", "\n".join(lines),
                   data=data)  # fmt: skip


# -- Communication and Safety: read from the journal ------------------------------------------


async def check_team_notified(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    if not ctx.config.notify.webhooks:
        return Verdict(
            ItemState.PENDING, "no [notify] webhooks: sign off once the team was told",
            signable=True,
        )  # fmt: skip
    if ctx.scope.deployment_id is None:
        return Verdict(ItemState.PENDING, "sent when the deployment starts")
    sent = delivered_notifications(ctx.journal, ctx.scope.deployment_id)
    ok = [d for d in sent if d.get("delivered")]
    if ok:
        last = ok[-1]
        label = LABELS.get(str(last.get("notify")), str(last.get("notify")))
        return Verdict(ItemState.PASS, f"'{label}' delivered to {last.get('target')}")
    if sent:
        last = sent[-1]
        return Verdict(ItemState.FAIL, f"not delivered: {last.get('error') or 'failed'}")
    return Verdict(ItemState.PENDING, "no notification sent for this deployment yet")


def _backup_state(ctx: CheckContext) -> str | None:
    if ctx.scope.deployment_id is None:
        return None
    return ctx.journal.step_states(ctx.scope.deployment_id).get("backup")


async def check_db_backup(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    state = _backup_state(ctx)
    if state == "ok":
        what = "app and database" if ctx.config.database.enabled else "app (no database)"
        return Verdict(ItemState.PASS, f"BACKUP of deployment {ctx.scope.deployment_id} ok: {what}")
    if state == "failed":
        return Verdict(ItemState.FAIL, "this deployment's BACKUP step failed")
    if state == "running":
        return Verdict(ItemState.RUNNING, "BACKUP running")
    return Verdict(ItemState.PENDING, "satisfied by this deployment's BACKUP step")


async def check_version_noted(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    state = _backup_state(ctx)
    if state != "ok":
        return await check_db_backup(ctx, item)
    assert ctx.scope.deployment_id is not None
    dep = ctx.journal.deployment(ctx.scope.deployment_id)
    version = dep.from_version if dep else ""
    git = str(dep.data.get("from_git") or "") if dep else ""
    if version or git:
        return Verdict(
            ItemState.PASS, f"live version {version or '?'}" + (f" ({git})" if git else "")
        )
    return Verdict(ItemState.WARNING, "BACKUP found no live version (a first deploy?)")


async def check_monitoring(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    if ctx.console:
        return Verdict(ItemState.PASS, "this console")
    return Verdict(ItemState.WARNING, "headless: no dashboard open (watch with `shipdeck`)")


# -- custom items and the IaC plan ------------------------------------------------------------


def _line_of(text: str, match: re.Match[str]) -> str:
    """The line a match is on, trimmed for a summary."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    line = text[start : end if end >= 0 else len(text)].strip()
    return line[:120]


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def judge_output(item: ChecklistItem, result: Result) -> tuple[bool, str, Any]:
    """(passed, why, number) of one host's run under the item's judge ("exit0", "regex",
    "budget"). Regex and budget judge the output (stdout then stderr, ``^``/``$`` at line ends),
    not the exit status, except that a command that could not run (126, 127) fails."""
    text = _output(result)
    if item.judge not in ("regex", "budget"):
        return result.ok, _exit_verdict(result).summary, None
    if result.exit_status in (126, 127):
        return False, _exit_verdict(result).summary, None
    if item.judge == "regex":
        if item.fail_pattern:
            bad = re.search(item.fail_pattern, text, re.M)
            if bad is not None:
                return False, f"fail_pattern matched: {_line_of(text, bad)}", None
        if not item.pattern:
            return True, "fail_pattern not matched", None
        good = re.search(item.pattern, text, re.M)
        if good is None:
            return False, f'no match for pattern "{item.pattern}"', None
        return True, f"matched: {_line_of(text, good)}", None
    matches = list(re.finditer(item.pattern, text, re.M))
    if not matches:
        return False, f'no number: no match for pattern "{item.pattern}"', None
    raw = matches[-1].group(1) or ""
    number = _number(raw)
    if number is None:
        return False, f'"{raw[:40]}" (pattern "{item.pattern}") is not a number', None
    if number > item.budget:
        return False, f"{number:g} > {item.budget:g} budget", number
    return True, f"{number:g} of {item.budget:g} budget", number


async def check_custom(
    ctx: CheckContext, item: ChecklistItem, hosts: Sequence[Transport]
) -> Verdict:
    """A configured command run on every host, judged on each (``judge_output``): the item
    passes when it passes everywhere."""

    async def one(t: Transport) -> tuple[str, Result | str]:
        try:
            return t.host.name, await _run(
                t, item.command, cwd=ctx.target_dir or None, timeout=_limit(ctx)
            )
        except CheckAbort as err:
            return t.host.name, err.verdict.summary

    outcomes = await asyncio.gather(*(one(t) for t in hosts))
    judged = [(h, (False, r, None) if isinstance(r, str) else judge_output(item, r))
              for h, r in outcomes]  # fmt: skip
    failed = [f"{h}: {why}" for h, (ok, why, _) in judged if not ok]
    detail = "\n\n".join(f"== {h}\n{r if isinstance(r, str) else _output(r)}" for h, r in outcomes)
    numbers = {h: n for h, (_, _, n) in judged if n is not None}
    data: dict[str, Any] = {"judge": item.judge}
    if item.judge == "budget":
        data.update(budget=item.budget, values=numbers)
    if failed:
        return Verdict(ItemState.FAIL, "; ".join(failed), detail, data=data)
    if item.judge in ("regex", "budget"):
        return Verdict(ItemState.PASS, "; ".join(f"{h}: {why}" for h, (_, why, _) in judged),
                       detail, data=data)  # fmt: skip
    return Verdict(ItemState.PASS, f"exit 0 on {len(outcomes)} host(s)", detail, data=data)


async def check_iac_plan(ctx: CheckContext, item: ChecklistItem, allow_destroy: bool) -> Verdict:
    site = _site(ctx)
    result = await _run(site.transport, item.command, cwd=site.workdir, timeout=_limit(ctx))
    text = _output(result)
    plan = parse_plan(result.stdout)
    if plan is None:
        return (
            _exit_verdict(result, detail=text)
            if not result.ok
            else Verdict(ItemState.FAIL, "no plan summary in the output", text)
        )
    ok, summary = judge_plan(plan, allow_destroy=allow_destroy)
    # terraform plan -detailed-exitcode exits 2 for "changes present": that is not a failure.
    if result.exit_status not in (0, 2):
        return _exit_verdict(result, detail=text)
    state = ItemState.PASS if ok else ItemState.FAIL
    return Verdict(state, summary, text, data=plan.to_json())


CheckFn = Callable[[CheckContext, ChecklistItem], Awaitable[Verdict]]

CHECKS: dict[str, CheckFn] = {
    "tests": check_tests,
    "lint": check_lint,
    "typescript": check_typescript,
    "console_log": check_console_log,
    "build": check_build,
    "bundle_size": check_bundle_size,
    "build_warnings": check_build_warnings,
    "env_vars": check_env_vars,
    "secrets": check_secrets,
    "migrations": check_migrations,
    "feature_flags": check_feature_flags,
    "team_notified": check_team_notified,
    "db_backup": check_db_backup,
    "version_noted": check_version_noted,
    "monitoring": check_monitoring,
}
