"""Host and process samples read from /proc by one long-lived remote bash loop, and the parser
of what it prints.

Rule: the loop spawns no process per sample, because spawning is what costs on the target (a
builtins-only loop at 1 Hz costs about 0.03% of a core; one ``pm2 jlist`` about 0.13 s of CPU):
bash builtins read /proc, ``read -t`` waits, and only ``df`` runs, every Nth sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Arguments: interval, df every N samples, PM2_HOME, the pids to watch, "--", the df paths.
# Besides those pids it samples every child of the pm2 daemon (/proc/GOD/task/GOD/children):
# pm2 starts and restarts workers as its children, so a new worker has figures before jlist names
# it, the loop need not restart when pids change, and a change in the children is the event that
# makes a fresh `pm2 jlist` worth its cost (no jlist polling at 1 Hz to notice).
#
# Output, one block per sample, each line tagged by its first word (SampleParser reads it):
#     H <pagesize> <ncpu> <clk_tck>    once, first
#     T <uptime seconds>               /proc/uptime: the clock the jiffy deltas are divided by
#     C cpu <user> <nice> <system> <idle> <iowait> <irq> <softirq> <steal> ...
#     M MemTotal:<kB> MemAvailable:<kB> SwapTotal:<kB> SwapFree:<kB>
#     L <1m> <5m> <15m> <running/total> <last pid>
#     K <daemon pid> <child pids...>          the pm2 daemon and its children ("K" alone: none)
#     P <pid> <statm fields>|<stat line>      one per watched pid that exists
#     X <pid>                                 a watched pid that is gone
#     D< ... D>                               `df -Pk PATHS` output between the markers
#     E                                       end of the sample
#
# The idle fd (3) is a pipe we hold both ends of: `read -t` on it never gets data and never
# sees EOF, so it is a sleep without a process. stdin can't serve: locally it is /dev/null.
SAMPLER_SCRIPT = r"""
iv=$1; dfe=$2; home=$3; shift 3
[[ -n $home ]] || home=${PM2_HOME:-$HOME/.pm2}
pids=(); while (($#)) && [[ $1 != -- ]]; do pids+=("$1"); shift; done
(($#)) && shift
paths=("$@")
exec 3<> <(:)
ncpu=0
while read -r k _; do [[ $k == cpu[0-9]* ]] && ((ncpu++)); done < /proc/stat
pg=$(getconf PAGESIZE 2>/dev/null) || pg=4096
hz=$(getconf CLK_TCK 2>/dev/null) || hz=100
printf 'H %s %s %s\n' "${pg:-4096}" "$ncpu" "${hz:-100}"
n=0
while :; do
  read -r up _ < /proc/uptime
  read -r c < /proc/stat
  m=
  # meminfo has ~55 lines; SwapFree is about the 16th: stop there.
  while read -r k v _; do
    case $k in MemTotal:|MemAvailable:|SwapTotal:) m+=" $k$v";; SwapFree:) m+=" $k$v"; break;; esac
  done < /proc/meminfo
  read -r l < /proc/loadavg
  god= kids=
  # (read's status is 1 at EOF even when it read a line: these files have no final newline)
  {
    read -r god < "$home/pm2.pid"
    [[ $god ]] && read -r kids < "/proc/$god/task/$god/children"
  } 2>/dev/null
  out="T $up"$'\n'"C $c"$'\n'"M$m"$'\n'"L $l"$'\n'"K $god $kids"
  for p in "${pids[@]}" $kids; do
    if { read -r q < "/proc/$p/statm" && read -r s < "/proc/$p/stat"; } 2>/dev/null; then
      out+=$'\n'"P $p $q|$s"
    else
      out+=$'\n'"X $p"
    fi
  done
  printf '%s\n' "$out" || exit 0
  if ((dfe > 0 && n % dfe == 0 && ${#paths[@]})); then
    echo 'D<'; df -Pk -- "${paths[@]}" 2>/dev/null; echo 'D>'
  fi
  echo E || exit 0
  ((n++))
  read -t "$iv" -u 3 _
done
"""


def sampler_argv(
    pids: tuple[int, ...],
    interval_s: float,
    df_every: int,
    paths: tuple[str, ...],
    pm2_home: str = "",
) -> list[str]:
    """The argv (no shell string building: the transport quotes it) that starts the loop.

    ``pm2_home`` "" means pm2's default ($PM2_HOME, else ~/.pm2) as the remote user sees it.
    """
    return [
        "bash", "-c", SAMPLER_SCRIPT, "shipdeck-sampler", f"{interval_s:g}", str(df_every),
        pm2_home, *(str(p) for p in pids), "--", *paths,
    ]  # fmt: skip


class SampleParseError(ValueError):
    """A sample line did not have the shape the loop prints."""


@dataclass(frozen=True, slots=True)
class Header:
    page_size: int = 4096
    ncpu: int = 1
    clk_tck: int = 100


@dataclass(frozen=True, slots=True)
class CpuTimes:
    total: int
    idle: int  # idle + iowait: time the CPU did no work


@dataclass(frozen=True, slots=True)
class Memory:
    total_kb: int
    available_kb: int
    swap_total_kb: int
    swap_free_kb: int


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    state: str  # R S D Z T ...; Z counts as gone (PID 1 here reaps late)
    ticks: int  # utime + stime, in clock ticks
    rss_pages: int
    start_ticks: int  # tells a reused pid from the one we watched

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X", "x")


@dataclass(frozen=True, slots=True)
class DiskUsage:
    mount: str
    size_kb: int
    used_kb: int
    avail_kb: int

    @property
    def percent(self) -> float:
        usable = self.used_kb + self.avail_kb
        return 100.0 * self.used_kb / usable if usable else 0.0


@dataclass(frozen=True, slots=True)
class RawSample:
    uptime: float
    cpu: CpuTimes
    memory: Memory
    load: tuple[float, float, float]
    procs: dict[int, ProcStat] = field(default_factory=dict)
    gone: tuple[int, ...] = ()
    disks: tuple[DiskUsage, ...] | None = None  # None: not measured in this sample
    daemon: tuple[int, ...] | None = None  # (pm2 daemon pid, *its children); () none; None: n/a


def parse_cpu(line: str) -> CpuTimes:
    parts = line.split()
    if not parts or parts[0] != "cpu":
        raise SampleParseError(f"not a /proc/stat cpu line: {line[:60]!r}")
    nums = [int(x) for x in parts[1:]]
    # guest/guest_nice (9th, 10th) are already counted in user/nice.
    total = sum(nums[:8])
    idle = nums[3] + (nums[4] if len(nums) > 4 else 0)
    return CpuTimes(total=total, idle=idle)


def parse_memory(text: str) -> Memory:
    values: dict[str, int] = {}
    for word in text.split():
        key, _, num = word.partition(":")
        if num.isdigit():
            values[key] = int(num)
    if "MemTotal" not in values:
        raise SampleParseError(f"no MemTotal in {text[:60]!r}")
    total = values["MemTotal"]
    return Memory(
        total_kb=total,
        available_kb=values.get("MemAvailable", total),
        swap_total_kb=values.get("SwapTotal", 0),
        swap_free_kb=values.get("SwapFree", 0),
    )


def parse_proc(pid: int, statm: str, stat: str) -> ProcStat:
    # comm (field 2) may hold spaces and parentheses: split after the LAST ')'.
    close = stat.rfind(")")
    if close < 0:
        raise SampleParseError(f"not a /proc/PID/stat line: {stat[:60]!r}")
    rest = stat[close + 1 :].split()
    # rest[0] is field 3 (state); utime/stime are fields 14/15, starttime 22.
    try:
        state = rest[0]
        ticks = int(rest[11]) + int(rest[12])
        start = int(rest[19])
        resident = int(statm.split()[1])
    except (IndexError, ValueError):
        raise SampleParseError(f"short /proc/{pid} line: {stat[:60]!r}") from None
    return ProcStat(pid=pid, state=state, ticks=ticks, rss_pages=resident, start_ticks=start)


def parse_df(lines: list[str]) -> tuple[DiskUsage, ...]:
    disks = []
    for line in lines:
        parts = line.split()
        # Filesystem 1024-blocks Used Available Capacity Mounted-on (mount may hold spaces)
        if len(parts) < 6 or not parts[1].isdigit():
            continue
        disks.append(
            DiskUsage(
                mount=" ".join(parts[5:]),
                size_kb=int(parts[1]),
                used_kb=int(parts[2]),
                avail_kb=int(parts[3]),
            )
        )
    # Two paths on one filesystem are one disk.
    unique = {d.mount: d for d in disks}
    return tuple(unique.values())


class SampleParser:
    """Feed it lines as they arrive; it returns a RawSample at each ``E``."""

    def __init__(self) -> None:
        self.header = Header()
        self._reset()

    def _reset(self) -> None:
        self._uptime: float | None = None
        self._cpu: CpuTimes | None = None
        self._mem: Memory | None = None
        self._load: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._procs: dict[int, ProcStat] = {}
        self._gone: list[int] = []
        self._df: list[str] | None = None
        self._in_df = False
        self._daemon: tuple[int, ...] | None = None

    def feed(self, line: str) -> RawSample | None:
        if self._in_df:
            if line == "D>":
                self._in_df = False
            else:
                assert self._df is not None
                self._df.append(line)
            return None
        tag, _, rest = line.partition(" ")
        if tag == "H":
            nums = [int(x) for x in rest.split()]
            self.header = Header(page_size=nums[0], ncpu=max(1, nums[1]), clk_tck=nums[2] or 100)
        elif tag == "T":
            self._uptime = float(rest.split()[0])
        elif tag == "C":
            self._cpu = parse_cpu(rest)
        elif tag == "M":
            self._mem = parse_memory(rest)
        elif tag == "L":
            parts = rest.split()
            self._load = (float(parts[0]), float(parts[1]), float(parts[2]))
        elif tag == "K" or line == "K":
            self._daemon = tuple(int(x) for x in rest.split() if x.isdigit())
        elif tag == "P":
            pid_text, _, payload = rest.partition(" ")
            statm, _, stat = payload.partition("|")
            pid = int(pid_text)
            proc = parse_proc(pid, statm, stat)
            if proc.alive:
                self._procs[pid] = proc
            else:
                self._gone.append(pid)
        elif tag == "X":
            self._gone.append(int(rest))
        elif tag == "D<":
            self._df, self._in_df = [], True
        elif tag == "E":
            return self._finish()
        # Anything else (a stray shell message) is ignored rather than fatal.
        return None

    def _finish(self) -> RawSample:
        if self._uptime is None or self._cpu is None or self._mem is None:
            self._reset()
            raise SampleParseError("incomplete sample (no T/C/M line before E)")
        sample = RawSample(
            uptime=self._uptime,
            cpu=self._cpu,
            memory=self._mem,
            load=self._load,
            procs=self._procs,
            gone=tuple(self._gone),
            disks=parse_df(self._df) if self._df is not None else None,
            daemon=self._daemon,
        )
        self._reset()
        return sample
