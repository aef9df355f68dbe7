"""Following log files on a host: one channel, framed output, resume by byte offset.

A small Node.js program (Node is on every pm2 host: pm2 is a Node program) runs on the host over
ONE channel and follows every file of the host. It writes frames to stdout::

    O idx ino off [size] opened file idx (inode ino), reading from byte off; with size on the
                         first open, when off..size is the backlog (the last N lines)
    D idx off len        followed by exactly len raw bytes of file idx, starting at byte off
    T idx                the file shrank (truncated, e.g. `pm2 flush`): reading again from 0
    G idx why            resuming: the file changed while we were away (rotated|truncated)
    M idx why            missing or unreadable (reported once until it appears)
    H                    heartbeat, every few seconds

Because data arrives tagged with its file and offset, the console knows exactly how far it got in
each file: after a dropped link it restarts the program with those offsets and inodes, so nothing
is read twice and nothing is skipped (unless the file was rotated or truncated meanwhile, which
the program reports and the console marks). A renamed (rotated) file is drained to its end
before the new file at the same path is followed from its start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kept small and dependency-free; it is sent as one argv element on every (re)connect.
FOLLOW_JS = r"""
'use strict';
const fs = require('fs');
const CHUNK = 256 * 1024, POLL_MS = 50, IDLE_MS = 400, BEAT_MS = 5000, MAX_BACK = 16 * 1024 * 1024;
const buf = Buffer.allocUnsafe(CHUNK);
const files = JSON.parse(process.argv[1]).map((s, idx) => ({
  idx, path: s.p, wantIno: s.i, wantOff: s.o, lines: s.n, fd: null, ino: null, off: 0,
  first: true, missing: false, tail: Buffer.alloc(0),
}));
const NOTHING = Buffer.alloc(0);
// A truncated file that grew past our offset between two polls still shows: the bytes just
// before the offset are no longer the ones we read.
function sameTail(f) {
  const n = f.tail.length;
  if (n === 0) return true;
  const b = Buffer.allocUnsafe(n);
  let r;
  try { r = fs.readSync(f.fd, b, 0, n, f.off - n); } catch (e) { return true; }
  return r === n && b.equals(f.tail);
}
process.stdout.on('error', () => process.exit(0));
let lastOut = Date.now();
function out(header, data) {
  const h = Buffer.from(header + '\n');
  lastOut = Date.now();
  return process.stdout.write(data ? Buffer.concat([h, data]) : h);
}
function tailStart(fd, size, n) {
  if (n <= 0 || size === 0) return size;
  let pos = size, count = 0;
  while (pos > 0 && size - pos < MAX_BACK) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    fs.readSync(fd, buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] === 10 && pos + i !== size - 1 && ++count === n) return pos + i + 1;
    }
  }
  return pos;
}
function open(f) {
  let fd;
  try { fd = fs.openSync(f.path, 'r'); } catch (e) {
    if (!f.missing) { f.missing = true; out(`M ${f.idx} ${e.code || 'unreadable'}`); }
    f.first = false;
    return false;
  }
  const st = fs.fstatSync(fd, { bigint: true });
  const size = Number(st.size);
  f.fd = fd; f.ino = String(st.ino); f.missing = false; f.tail = NOTHING;
  const backlog = !f.wantIno && f.first;
  if (f.wantIno) {
    if (f.ino === f.wantIno && size >= f.wantOff) f.off = f.wantOff;
    else { f.off = 0; out(`G ${f.idx} ${f.ino !== f.wantIno ? 'rotated' : 'truncated'}`); }
  } else {
    f.off = f.first ? tailStart(fd, size, f.lines) : 0;
  }
  f.wantIno = null; f.first = false;
  out(`O ${f.idx} ${f.ino} ${f.off}` + (backlog ? ` ${size}` : ''));
  return true;
}
async function drain(f) {
  let total = 0;
  for (;;) {
    let n;
    try { n = fs.readSync(f.fd, buf, 0, CHUNK, f.off); } catch (e) { return total; }
    if (n <= 0) return total;
    total += n;
    const ok = out(`D ${f.idx} ${f.off} ${n}`, buf.subarray(0, n));
    f.off += n;
    f.tail = Buffer.from(n >= 16 ? buf.subarray(n - 16, n)
      : Buffer.concat([f.tail, buf.subarray(0, n)]).subarray(-16));
    if (!ok) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}
async function check(f) {
  if (f.fd === null && !open(f)) return 0;
  if (Number(fs.fstatSync(f.fd, { bigint: true }).size) < f.off || !sameTail(f)) {
    f.off = 0; f.tail = NOTHING; out(`T ${f.idx}`);
  }
  let n = await drain(f);
  let st = null;
  try { st = fs.statSync(f.path, { bigint: true }); } catch (e) { st = null; }
  if (st !== null && String(st.ino) !== f.ino) {
    n += await drain(f);
    fs.closeSync(f.fd);
    f.fd = null;
    if (open(f)) n += await drain(f);
  }
  return n;
}
(async () => {
  // Poll fast while lines come, back off to IDLE_MS when the logs are quiet: an idle app's
  // host should pay next to nothing for being watched.
  let wait = POLL_MS;
  for (;;) {
    let got = 0;
    for (const f of files) got += await check(f);
    if (Date.now() - lastOut >= BEAT_MS) out('H');
    wait = got > 0 ? POLL_MS : Math.min(IDLE_MS, wait * 2);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
})();
"""

#: Longest line shown; the rest of a longer line is skipped (and said so).
MAX_LINE = 16 * 1024

# CSI/OSC escape sequences (colours from the app) and C0/C1 controls other than newline.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL_BYTES = bytes([*range(0x0A), *range(0x0B, 0x20), 0x7F])
_CTRL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def cut_marker(length: int | None) -> str:
    size = f"{length:,} chars" if length is not None else f"more than {MAX_LINE:,} bytes"
    return f" … [line cut: {size}]"


_CUT_UNKNOWN = cut_marker(None)


def clean_line(text: str) -> str | None:
    """A line safe to show, or None if it is binary junk (mostly control bytes)."""
    if text.endswith("\r"):
        text = text[:-1]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = text.replace("\t", "    ")
    bad = len(_CTRL.findall(text)) + text.count("\ufffd")
    if bad and bad * 10 >= len(text) * 3:
        return None
    return _CTRL.sub("\ufffd", text) if bad else text


class LineCutter:
    """Bytes of one file -> display-safe lines.

    Keeps the partial last line across chunks (and across reconnects: the byte offset we resume
    from is where that partial line continues). Lines longer than MAX_LINE are cut with a marker
    and the rest skipped without being buffered; binary junk becomes one marker per run.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._max = max_line
        self._skipping = False

    def feed(self, data: bytes) -> list[str]:
        if self._skipping:
            j = data.find(b"\n")
            if j < 0:
                return []
            data = data[j + 1 :]
            self._skipping = False
        buf = self._buf
        buf += data
        end = buf.rfind(b"\n")
        lines: list[str] = []
        raw = b""
        if end >= 0:
            raw = bytes(buf[:end])
            del buf[: end + 1]
            lines = raw.decode("utf-8", errors="replace").split("\n")
        if len(buf) > self._max:
            head = bytes(buf[: self._max]).decode("utf-8", errors="ignore")
            lines.append(head + _CUT_UNKNOWN)
            buf.clear()
            self._skipping = True
            raw = b"\x00"  # force the slow path below for the appended line
        # Deleting the control bytes is a fast C pass; a changed length means some were there.
        # C1 controls (U+0080..U+009F) can only hide in non-ASCII text, which is rarer.
        if lines and (
            len(raw.translate(None, _CONTROL_BYTES)) != len(raw)
            or max(map(len, lines)) > self._max
            or (not raw.isascii() and any(map(_C1.search, lines)))
        ):
            lines = self._slow(lines)
        return lines

    def flush(self) -> list[str]:
        """The unterminated last line (when the file was truncated or replaced under it)."""
        self._skipping = False
        if not self._buf:
            return []
        text = bytes(self._buf).decode("utf-8", errors="replace")
        self._buf.clear()
        return self._slow([text])

    def _slow(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        binary = 0
        for raw in lines:
            line = clean_line(raw)
            if line is None:
                binary += len(raw) + 1
                continue
            if binary:
                out.append(f"[binary data: {binary:,} bytes not shown]")
                binary = 0
            if len(line) > self._max and not line.endswith(_CUT_UNKNOWN):
                line = line[: self._max] + cut_marker(len(line))
            out.append(line)
        if binary:
            out.append(f"[binary data: {binary:,} bytes not shown]")
        return out


class ProtocolError(Exception):
    """The follower's output made no sense (not our program, or corrupted)."""


@dataclass(frozen=True)
class Frame:
    kind: str  # "O" | "T" | "G" | "M" | "H"
    idx: int
    args: tuple[str, ...]


class FrameParser:
    """Splits the follower's stdout into header frames and file data, across chunk boundaries."""

    MAX_HEADER = 4096

    def __init__(self) -> None:
        self._head = b""
        self._need = 0
        self._idx = -1

    def feed(self, data: bytes) -> list[Frame | tuple[int, bytes]]:
        """Frames and ``(idx, bytes)`` data pieces, in order."""
        out: list[Frame | tuple[int, bytes]] = []
        i, n = 0, len(data)
        while i < n:
            if self._need:
                take = min(self._need, n - i)
                out.append((self._idx, data[i : i + take]))
                self._need -= take
                i += take
                continue
            j = data.find(b"\n", i)
            if j < 0:
                self._head += data[i:]
                if len(self._head) > self.MAX_HEADER:
                    raise ProtocolError("log follower sent an over-long header")
                break
            line = self._head + data[i:j] if self._head else data[i:j]
            self._head = b""
            i = j + 1
            frame = self._header(line)
            if frame is not None:
                out.append(frame)
        return out

    def _header(self, line: bytes) -> Frame | None:
        # The reason of M and G may contain spaces.
        maxsplit = 2 if line[:1] in (b"M", b"G") else -1
        parts = line.decode("utf-8", errors="replace").split(" ", maxsplit)
        kind = parts[0]
        try:
            if kind == "H":
                return Frame("H", -1, ())
            idx = int(parts[1])
            if kind == "D":
                self._idx, self._need = idx, int(parts[3])
                return Frame("D", idx, (parts[2],)) if self._need == 0 else None
            if kind in ("O", "T", "G", "M"):
                return Frame(kind, idx, tuple(parts[2:]))
        except (IndexError, ValueError):
            pass
        raise ProtocolError(f"log follower sent an unexpected line: {line[:80]!r}")
