"""Frozen config models. The field definitions ARE the schema.

Every default lives here and nowhere else: the validator (config_schema.py) reads
types, defaults and constraints from these fields, and a test checks that
config.example.toml lists each of them with this default. Constraints are data in
`metadata` (names of checks, not code) so this module stays free of logic.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

# Metadata keys understood by config_schema:
#   required  the key must be present (no default)
#   example   sample value shown in hints (for keys whose default is empty)
#   choices   allowed values (for strings, or each element of an array)
#   ge/gt/le  numeric bounds (for numbers, or each element of an array)
#   range     how the bounds read in a problem's hint, when "ge..le" would mislead
#   checks    names of extra checks in config_schema.CHECKS
#   command   a command: a TOML string (shlex-split) or an array of strings
#   toml      False = not a config key (e.g. Config.source)
#   optional_if (key, value): not required when that sibling key has that value
#   secret    never echo the value in a problem
#   scalars   a map (a table of name = value) whose values may be strings, booleans or
#             numbers, kept as text; nested tables become dotted names


def opt(default: Any, **meta: Any) -> Any:
    return field(default=default, metadata=meta)


def req(example: Any, **meta: Any) -> Any:
    return field(metadata={"required": True, "example": example, **meta})


def cmd(*argv: str) -> Any:
    return field(default=tuple(argv), metadata={"command": True})


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a config file, printed as FILE:LINE: KEY: message (hint)."""

    file: str
    line: int
    key: str
    message: str
    hint: str  # what would be right

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message} ({self.hint})"


class FrozenMap(Mapping[str, str]):
    """A read-only, hashable mapping, so a whole Config stays hashable and immutable."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data = MappingProxyType(dict(data or {}))

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._data)!r})"


@dataclass(frozen=True, slots=True)
class AppConfig:
    """[app]: the application being deployed, where it lives and how it runs."""

    name: str = req("shop-api", checks=("name",))
    root: str = req("/srv/shop-api", checks=("abs_path",))
    backend: str = opt("pm2", choices=("pm2", "compose"))
    layout: str = opt("releases", choices=("releases", "in-place"))
    ecosystem: str = opt("ecosystem.config.js", checks=("nonempty",))
    repo: str = opt("", example="git@github.com:acme/shop-api.git")
    ref: str = opt("main", checks=("nonempty",))
    environment: str = opt("production", checks=("nonempty",))
    backup_dir: str = opt("/backup", checks=("abs_path",))
    keep_releases: int = opt(5, ge=2)
    pm2_bin: str = opt("pm2", checks=("nonempty",))
    pm2_home: str = opt("", checks=("abs_path_or_empty",))
    # The pm2 apps of the ecosystem file that are the deployment's (empty = all of them).
    pm2_apps: tuple[str, ...] = opt((), example=("shop-api", "shop-worker"))
    compose_file: str = opt("docker-compose.yml", checks=("nonempty",))


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One [[hosts]] entry: a host and how to reach it."""

    name: str = req("web1", checks=("name",))
    # Not needed for transport = "local" (the demo runs on the jump host itself).
    address: str = req("10.0.0.5", checks=("nonempty",), optional_if=("transport", "local"))
    # Unset (0 / "") = as ~/.ssh/config says for `address`, else OpenSSH's default; a given
    # value wins over ~/.ssh/config (tui/core/ssh_target.py).
    port: int = opt(0, ge=0, le=65535, example=22, range="1..65535, or 0 = ~/.ssh/config's Port")
    user: str = opt("", example="deploy")
    identity_file: str = opt("", checks=("local_file",), example="~/.ssh/id_ed25519")
    known_hosts: str = opt("", checks=("local_file",), example="~/.ssh/known_hosts")
    proxy_jump: str = opt("", example="deploy@bastion.example.com:22")
    group: str = opt("default", checks=("nonempty",))
    transport: str = opt("ssh", choices=("ssh", "local"))
    keepalive_s: float = opt(15.0, ge=0)  # 0 turns keepalives off


@dataclass(frozen=True, slots=True)
class BackupStep:
    """[steps.backup]: the BACKUP step's commands."""

    version_command: tuple[str, ...] = cmd("git", "log", "-1", "--oneline")
    timeout_s: float = opt(120.0, gt=0)


@dataclass(frozen=True, slots=True)
class BuildStep:
    """[steps.build]: the BUILD step's commands."""

    install: tuple[str, ...] = cmd("npm", "ci", "--production")
    # --if-present: an app without a build script (most plain Node apps) has nothing to build.
    build: tuple[str, ...] = cmd("npm", "run", "build", "--if-present")
    migrate: tuple[str, ...] = field(
        default=(), metadata={"command": True, "example": ("npm", "run", "migrate")}
    )  # empty = skip; the seed used ("npm", "run", "migrate")
    timeout_s: float = opt(900.0, gt=0)


@dataclass(frozen=True, slots=True)
class DeployStep:
    """[steps.deploy]: the DEPLOY step's commands."""

    reload: tuple[str, ...] = cmd("pm2", "reload", "{ecosystem}", "--update-env")
    timeout_s: float = opt(300.0, gt=0)


@dataclass(frozen=True, slots=True)
class VerifyStep:
    """[steps.verify]: the VERIFY step's limits."""

    timeout_s: float = opt(120.0, gt=0)


@dataclass(frozen=True, slots=True)
class RollbackStep:
    """[steps.rollback]: the ROLLBACK step's commands."""

    migrate_down: tuple[str, ...] = cmd("npm", "run", "migrate:down")
    timeout_s: float = opt(300.0, gt=0)


@dataclass(frozen=True, slots=True)
class StepsConfig:
    """[steps.*]: the commands of each workflow step."""

    backup: BackupStep = field(default=BackupStep())
    build: BuildStep = field(default=BuildStep())
    deploy: DeployStep = field(default=DeployStep())
    verify: VerifyStep = field(default=VerifyStep())
    rollback: RollbackStep = field(default=RollbackStep())


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """[health]: the health and status checks of the running app."""

    url: str = opt("http://localhost:3000/health", checks=("url",))
    status_url: str = opt("http://localhost:3000/api/status", checks=("url",))
    status_path: str = opt("status")
    status_expected: str = opt("ok")
    version_path: str = opt("version")
    timeout_s: float = opt(5.0, gt=0)
    retries: int = opt(3, ge=0)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """[database]: the app's database, for dumps, restores and migrations."""

    enabled: bool = opt(False)
    engine: str = opt("postgresql", choices=("postgresql",))
    host: str = opt("localhost", checks=("nonempty",))
    port: int = opt(5432, ge=1, le=65535)
    name: str = opt("", example="shop_production")  # required when enabled (a cross-check)
    user: str = opt("", example="shop")
    password_env: str = opt(
        "", example="SHOP_DB_PASSWORD"
    )  # name of a jump-host env var holding the password
    run_on: str = opt("", example="web1")  # a [[hosts]] name; "" = the primary host (a cross-check)
    backup_dir: str = opt("/backup/db", checks=("abs_path",))
    verify_restore: bool = opt(False)


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """[monitor]: sampling cadence and history of the live monitor."""

    interval_s: float = opt(1.0, gt=0)
    jlist_interval_s: float = opt(15.0, gt=0)
    history_minutes: int = opt(15, ge=1)


@dataclass(frozen=True, slots=True)
class LogsConfig:
    """[logs]: the log buffer and how lines are classified by level."""

    buffer_lines: int = opt(100000, ge=1)
    initial_lines: int = opt(200, ge=0)
    error_pattern: str = opt("ERROR|Error|error", checks=("regex",))
    warn_pattern: str = opt("WARN|Warn|warn", checks=("regex",))
    debug_pattern: str = opt("DEBUG|Debug", checks=("regex",))
    stderr_is_error: bool = opt(True)
    # Errors per minute on one host that mark the timeline as an error burst (an alarm).
    burst_errors_per_minute: int = opt(30, ge=1)
    # Longer lines are cut with a marker (the rest is skipped, never buffered).
    max_line_kb: int = opt(16, ge=1, le=1024)
    # How often the pm2 process list is re-read for new log files (scaled up, renamed).
    rediscover_s: float = opt(60.0, gt=0)
    # "auto": a line that parses as a JSON object is a structured record (pino, winston,
    # bunyan), judged by its level field and searched by its message; "text" / "json": always.
    format: str = opt("auto", choices=("auto", "text", "json"))
    level_key: str = opt("level", checks=("nonempty",))
    message_keys: tuple[str, ...] = opt(("msg", "message"))
    time_keys: tuple[str, ...] = opt(("time", "timestamp"))


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """A custom checklist item, judged on every host. judge "manual": needs an operator
    sign-off; "exit0": passes when `command` exits 0; "regex": the output decides, passes when
    `pattern` matches and `fail_pattern` does not (either may be left out, not both); "budget":
    `pattern` has one group around a number in the output (the last match counts), passes when
    that number is at most `budget`. The cross-checks in config_checks enforce the pairs."""

    id: str = req("smoke-test", checks=("name",))
    label: str = req("Smoke test passes", checks=("nonempty",))
    section: str = opt("custom", checks=("nonempty",))
    command: tuple[str, ...] = field(
        default=(), metadata={"command": True, "example": ("npm", "test")}
    )
    judge: str = opt("manual", choices=("manual", "exit0", "regex", "budget"))
    pattern: str = opt("", checks=("regex",), example=r"(\d+) vulnerabilities")
    fail_pattern: str = opt("", checks=("regex",), example=r"(?i)\bcritical\b")
    budget: float = opt(0.0, example=10)  # judge "budget": required, the largest number allowed


@dataclass(frozen=True, slots=True)
class ChecklistConfig:
    """[checklist]: the pre-deploy checks and their settings."""

    bundle_budget_kb: int = opt(500, ge=0)
    source_dirs: tuple[str, ...] = opt(("src",))  # relative to the release dir on the host
    build_dir: str = opt("dist")  # relative to the release dir on the host
    env_vars: tuple[str, ...] = opt((), example=("DATABASE_URL",))
    secret_files: tuple[str, ...] = opt(
        (), example=("/etc/shop-api/secrets.env",)
    )  # paths on the host
    secret_max_age_days: int = opt(90, ge=1)
    optional: tuple[str, ...] = opt((), example=("smoke-test",))
    items: tuple[ChecklistItem, ...] = opt(())
    check_timeout_s: float = opt(600.0, gt=0)  # per automated check (the build: steps.build)
    # A checkout on the jump host the code checks run in, like `shipdeck check --workdir`
    # ("" = the release this deployment built on the host, else the current directory).
    workdir: str = opt("", example="~/src/shop-api")
    tsc_command: tuple[str, ...] = cmd("npx", "--no-install", "tsc", "--noEmit")
    source_extensions: tuple[str, ...] = opt(
        ("js", "jsx", "mjs", "cjs", "ts", "tsx", "vue", "svelte"), checks=("name",)
    )  # files searched for console.log
    warning_pattern: str = opt(r"(?i)\bwarn(ing)?s?\b", checks=("regex",))
    migrations_status: tuple[str, ...] = cmd("npm", "run", "--silent", "migrate:status")
    migrations_pending_pattern: str = opt(r"(?i)\b(pending|down|not applied)\b", checks=("regex",))
    iac_allow_destroy: bool = opt(False)
    # A file on the primary host (relative to the release directory, or absolute; JSON or
    # KEY=VALUE lines) or an http(s) URL as that host sees it, read by the feature-flags item.
    feature_flags_source: str = opt("", checks=("path_or_url",), example="config/flags.json")
    # [checklist.feature_flags]: flag name (a dotted path into JSON) -> expected value, as text
    feature_flags: Mapping[str, str] = field(
        default_factory=FrozenMap,
        metadata={"scalars": True, "example": {"new_checkout": "true"}},
    )


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """[canary]: traffic shifting and the canary judge."""

    # Must also end at 100 (a cross-check); each step is judged by core/judge.py.
    steps_percent: tuple[int, ...] = opt(
        (1, 10, 100), ge=1, le=100, checks=("increasing", "ends_at_100")
    )
    judge_seconds: int = opt(60, ge=1)  # the window each step is judged over
    min_requests: int = opt(100, ge=1)  # per side and window; fewer = "inconclusive"
    max_wait_s: float = opt(300.0, gt=0)  # longest a step waits for enough requests
    threshold: float = opt(70.0, ge=0, le=100)  # a step scoring under this fails (0-100)
    latency_tolerance_percent: float = opt(20.0, ge=0)  # p95 worse by more than this %...
    latency_tolerance_ms: float = opt(10.0, ge=0)  # ...and by more than this many ms
    min_error_diff: float = opt(0.01, ge=0, le=1)  # 5xx rate difference that matters (0.01 = 1 pp)
    upstream_file: str = opt(
        "", checks=("abs_path_or_empty",), example="/etc/nginx/conf.d/shop_api_upstream.conf"
    )  # on the host: the file with the upstream's weighted servers
    upstream: str = opt("", example="shop_api")
    nginx_reload: tuple[str, ...] = cmd("nginx", "-s", "reload")


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """[notify]: where deploy notifications go."""

    webhooks: tuple[str, ...] = opt(
        (), checks=("url",), secret=True, example=("https://hooks.example.com/T000/B000/XXXX",)
    )
    format: str = opt("slack", choices=("slack", "json"))
    timeout_s: float = opt(5.0, gt=0)
    retries: int = opt(3, ge=0)
    backoff_s: float = opt(0.5, ge=0)  # first pause between attempts; doubles each time


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class AlarmsConfig:
    """When the post-deploy watch raises an alarm ([policy.alarms]; see core/watch_rules.py)."""

    health_fail_streak: int = opt(2, ge=1)  # unhealthy samples in a row
    error_rate_factor: float = opt(3.0, gt=0)  # x the pre-deploy errors/min...
    error_rate_floor: float = opt(5.0, ge=0)  # ...and above this many errors/min
    max_new_restarts: int = opt(0, ge=0)  # restarts allowed since the watch began
    memory_growth: float = opt(0.5, gt=0)  # memory per process vs baseline (0.5 = +50%)
    # A process is not judged for this long after it (re)started: a fresh Node heap grows.
    warmup_s: float = opt(60.0, ge=0)
    # A leak is a steady rise over at least this long (a Theil-Sen slope; watch_stats.py).
    memory_window_s: float = opt(300.0, gt=0)
    # ...of more than this (2 MB/min = 10 MB over the window, clear of GC noise).
    memory_leak_mb_per_min: float = opt(2.0, gt=0)
    # Log drift: a new template the old release never logged, at >= this many lines per minute,
    # raises an alarm (0 = findings only, never an alarm; log_drift.py)...
    new_templates_alarm: float = opt(5.0, ge=0)
    # ...when it is at least this level ("warn" also covers a release that only logs warnings).
    new_templates_alarm_level: str = opt("error", choices=("error", "warn"))


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """[policy]: when a deploy is allowed, and the watch's alarms."""

    watch_minutes: float = opt(15, ge=0)
    watch_interval_s: float = opt(10.0, gt=0)
    auto_rollback: bool = opt(False)
    # The watch suggests `pm2 scale APP +N` when latency rises under load (busy CPU, errors ok);
    # with auto_scale it scales by itself, up to max_instances, once per scale_cooldown_s.
    auto_scale: bool = opt(False)
    max_instances: int = opt(8, ge=1)
    scale_cooldown_s: float = opt(300.0, ge=0)
    no_deploy_days: tuple[str, ...] = opt(("Fri",), choices=WEEKDAYS)
    no_deploy_after: str = opt("16:00", checks=("hhmm",))  # "" = no cut-off
    max_commits_ahead: int = opt(20, ge=0)
    lock_stale_minutes: int = opt(120, ge=1)
    alarms: AlarmsConfig = field(default=AlarmsConfig())


@dataclass(frozen=True, slots=True)
class SecretsConfig:
    """[secrets]: what is redacted before anything reaches the journal."""

    env_vars: tuple[str, ...] = opt((), example=("SHOP_DB_PASSWORD",))
    patterns: tuple[str, ...] = opt(
        (r"(?i)(password|passwd|secret|token|api[_-]?key)\s*[=:]\s*\S+",),
        checks=("regex",),
        example=(r"(?i)token=\S+",),
    )


@dataclass(frozen=True, slots=True)
class Config:
    """The whole config file: one frozen, validated tree of the sections above."""

    app: AppConfig = field(metadata={"required": True})
    hosts: tuple[HostConfig, ...] = field(metadata={"required": True})
    steps: StepsConfig = field(default=StepsConfig())
    health: HealthConfig = field(default=HealthConfig())
    database: DatabaseConfig = field(default=DatabaseConfig())
    monitor: MonitorConfig = field(default=MonitorConfig())
    logs: LogsConfig = field(default=LogsConfig())
    checklist: ChecklistConfig = field(default=ChecklistConfig())
    canary: CanaryConfig = field(default=CanaryConfig())
    notify: NotifyConfig = field(default=NotifyConfig())
    policy: PolicyConfig = field(default=PolicyConfig())
    secrets: SecretsConfig = field(default=SecretsConfig())
    # action id -> key, e.g. {"deploy": "ctrl+d"}; values are checked non-empty
    keymap: Mapping[str, str] = field(default_factory=FrozenMap)
    source: Path = field(default=Path("shipdeck.toml"), metadata={"toml": False})

    @property
    def primary_host(self) -> HostConfig:
        return self.hosts[0]
