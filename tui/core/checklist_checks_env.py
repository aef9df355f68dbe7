"""The Environment checks, run on the target: environment variables, secrets' age, pending
migrations, feature flags.

Rule: no check reads an environment variable's VALUE; names are extracted on the host, so only
names cross the link. Flag values the journal's redactor would hide are masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import (
    MAX_LISTED,
    CheckAbort,
    CheckContext,
    Verdict,
    exit_verdict,
    hits_summary,
    last_line,
    output_text,
    package_json,
    require_site,
    run_command,
    time_limit,
)
from tui.core.health_http import http_get
from tui.core.transport_errors import one_line
from tui.core.verify_checks import _MISSING as _JSON_MISSING
from tui.core.verify_checks import as_text, json_path

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
    pm2 = await run_command(target, ["node", "-e", _PM2_ENV_NAMES_JS, app.pm2_bin, app.name],
                            cwd=None, env=env, timeout=time_limit(ctx, 60))  # fmt: skip
    if pm2.ok:
        try:
            doc = json.loads(pm2.stdout.strip().splitlines()[-1])
            names |= {str(n) for n in doc.get("names", [])}
            where.append(f"pm2 env of {doc.get('processes', 0)} {app.name} process(es)")
        except (ValueError, IndexError, AttributeError):
            where.append("pm2 env (unreadable)")
    dotenv = f"{ctx.target_dir.rstrip('/')}/.env"
    res = await run_command(target, ["sed", "-n", "-E", _DOTENV_NAMES, dotenv], cwd=None,
                            timeout=time_limit(ctx, 30))  # fmt: skip
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
    res = await run_command(ctx.target, ["stat", "-c", "%Y %n", "--", *files], cwd=None,
                            timeout=time_limit(ctx, 30))  # fmt: skip
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
    if not argv or (script and script not in ((await package_json(ctx)).get("scripts") or {})):
        what = f"no {script!r} script" if argv else "no [checklist] migrations_status command"
        return Verdict(
            ItemState.PENDING,
            f"{what} to list pending migrations: sign off after reviewing them",
            signable=True,
        )
    site = require_site(ctx)
    result = await run_command(site.transport, argv, cwd=site.workdir, timeout=time_limit(ctx))
    text = output_text(result)
    if not result.ok:
        return exit_verdict(result, detail=text)
    pending_re = re.compile(cfg.checklist.migrations_pending_pattern)
    pending = [ln.strip() for ln in result.stdout.splitlines() if pending_re.search(ln)]
    if not pending:
        return Verdict(ItemState.PASS, "no pending migrations", text)
    return Verdict(ItemState.PASS, f"{len(pending)} pending: {hits_summary(pending)}", text,
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
    result = await run_command(target, argv, cwd=None, timeout=time_limit(ctx, 30))
    if not result.ok:
        why = last_line(result.stderr) or f"exit {result.exit_status}"
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
