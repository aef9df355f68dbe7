"""Log templates: log messages mined into their constant shapes (the Drain algorithm).

``price lookup failed for sku=1001, using 0`` and ``... sku=1002, using 0`` are one template,
``price lookup failed for sku=<NUM>, using <NUM>``. Variable parts are masked first (``<NUM>``,
``<HEX>``, ``<UUID>``, ``<IP>``, ``<TS>``, ``<STR>``); the masked tokens are then clustered by
Drain (He, Zhu, Zheng, Lyu: "Drain: An Online Log Parsing Approach with Fixed Depth Tree",
ICWS 2017): a parse tree keyed by the line's level and token count, then by its first ``depth``
tokens (a token with a digit, or one past ``max_children``, takes the ``<*>`` branch); in the leaf
the most similar template (share of equal positions, ``<*>`` matching anything) takes the line if
the share reaches ``similarity``, and the positions that differ become ``<*>``.

Our own miner, not drain3: drain3 0.9.11 pins old cachetools and jsonpickle (and brings
persistence and config machinery we do not need); this is the same algorithm in ~300 lines.

Memory is bounded: at most ``max_templates`` templates (least recently seen evicted first, and
counted), at most ``max_children`` children per tree node, bounded caches. A line is split off
its level for the tree: the same words at ERROR and at INFO are two templates (a known message
that changes level is itself news).

Speed (``bench/logs.py`` reports ``templates_lines_per_s``): which characters the masks take
does not depend on the values of digits, so when a message's masked form has no digit left, any
message equal to it with other digits (the key: digits replaced by ``0``, made in C by
``bytes.translate``) is the same template, found without masking at all. Otherwise tokens are
masked one by one through caches (by token, and by token with its digits as ``0``), and the
masked token tuple is looked up in an exact-match cache before the tree is searched.

Pure: no I/O, time comes in with each line. ``split_line`` turns a raw log line (text or JSON)
into the ``(ts, level, message)`` the miner takes, with the Classifier's level.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from tui.core.log_buffer import LEVEL_NAMES
from tui.core.log_filter import Classifier

WILDCARD = "<*>"
NUM, HEX, UUID, IP, TS, STR = "<NUM>", "<HEX>", "<UUID>", "<IP>", "<TS>", "<STR>"

# Quoted values (may hold blanks), masked on the whole message before it is split. A quote that
# touches a word character is an apostrophe ("can't"), not the start or end of a value.
_STR_RE = re.compile(r"""(?<![\w"'])(?:"[^"\n]*"|'[^'\n]*')(?![\w"'])""")

_H = "[0-9a-fA-F]"
# Masks inside one token, tried left to right (the first branch that matches at a position wins).
# None of them depends on the VALUE of a digit (``\d[xX]``, not ``0x``): the fast key relies on it.
_TOKEN_RE = re.compile(
    rf"(?<!\w)(?:"
    rf"(?P<UUID>{_H}{{8}}-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-{_H}{{12}})"
    r"|(?P<TS>\d{4}-\d{2}-\d{2}(?:[T_]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?Z?)"
    r"|(?P<IP>\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)"
    rf"|(?=[0-9a-fA-F:]*\d)(?:{_H}{{1,4}}:){{7}}{_H}{{1,4}}"
    rf"|(?=[0-9a-fA-F:]*\d)(?:{_H}{{1,4}}(?::{_H}{{1,4}})*)?::(?:{_H}{{1,4}}(?::{_H}{{1,4}})*)?)"
    rf"|(?P<HEX>\d[xX]{_H}+|(?={_H}*[a-fA-F])(?={_H}*\d){_H}{{6,}})"
    r")(?!\w)"
    r"|(?<![\w.])(?P<NUM>\d+(?:\.\d+)*)"
)
_MASK_OF = {"UUID": UUID, "TS": TS, "IP": IP, "HEX": HEX, "NUM": NUM}
_DIGIT = re.compile(r"\d")
# Digits -> "0", in C: the key of the fast path (a message and its masked form agree on it).
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def _replace(match: re.Match[str]) -> str:
    return _MASK_OF[match.lastgroup or "NUM"]


def mask_token(token: str) -> str:
    """One blank-free token with its variable parts masked (``sku=1001,`` -> ``sku=<NUM>,``)."""
    return _TOKEN_RE.sub(_replace, token) if _DIGIT.search(token) else token


def mask(message: str) -> str:
    """A message with numbers, ids, hex, UUIDs, IPs, timestamps and quoted values masked, its
    blanks normalised to one space."""
    if '"' in message or "'" in message:
        message = _STR_RE.sub(STR, message)
    return " ".join(mask_token(t) for t in message.split())


class Template:
    """One template: its text, how many lines it took, the highest level among them, the first
    line and when it was first and last seen (epoch seconds of the lines). ``text`` and
    ``example`` went through the miner's ``redact``; ``tokens`` (what lines are matched
    against) did not."""

    __slots__ = (
        "_leaf", "_path", "alive", "count", "example", "first_seen", "id", "last_seen", "level",
        "miner", "text", "tokens",
    )  # fmt: skip

    def __init__(
        self, miner: str, tid: int, level: int, tokens: tuple[str, ...], ts: float, example: str
    ) -> None:
        self.miner = miner  # uid of the miner that made it (ids are per miner)
        self.id = tid
        self.level = level
        self.tokens = tokens
        self.text = " ".join(tokens)
        self.count = 0
        self.first_seen = ts
        self.last_seen = ts
        self.example = example
        self.alive = True  # False once evicted
        self._leaf: list[Template] = []
        self._path: list[tuple[dict[Any, _Node], Any]] = []

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))

    def __repr__(self) -> str:
        return f"Template({self.id}, {self.level_name}, {self.text!r}, count={self.count})"


class _Node:
    __slots__ = ("children", "templates")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.templates: list[Template] = []


class TemplateMiner:
    """Online template mining with bounded memory. ``add`` one line at a time.

    ``similarity``: share of a line's tokens that must equal a template's (0..1) to join it.
    ``depth``: how many leading tokens route a line through the tree. ``max_chars``: longer
    messages are cut (a stack dumped into one line costs no more than this). ``redact`` masks
    secrets in each template's text and example line (once per template, not per line).
    """

    def __init__(
        self,
        *,
        max_templates: int = 1000,
        max_children: int = 100,
        depth: int = 2,
        similarity: float = 0.5,
        max_chars: int = 1000,
        max_example_chars: int = 500,
        cache_size: int = 65536,
        redact: Callable[[str], str] | None = None,
        uid: str | None = None,
    ) -> None:
        if max_templates < 1 or max_children < 2 or depth < 0:
            raise ValueError("max_templates >= 1, max_children >= 2 and depth >= 0")
        self.max_templates = max_templates
        self.max_children = max_children
        self.depth = depth
        self.similarity = similarity
        self.max_chars = max_chars
        self.max_example_chars = max_example_chars
        self.cache_size = max(16, cache_size)
        self.redact = redact
        self.uid = uid or secrets.token_hex(4)
        self.lines = 0  # lines added
        self.evicted = 0  # templates dropped by the LRU bound
        self._next_id = 1
        self._lru: OrderedDict[int, Template] = OrderedDict()  # oldest first
        self._roots: dict[tuple[int, int], _Node] = {}  # (level, token count) -> node
        self._fast: dict[int, dict[bytes, Template]] = {}  # level -> digit-free key -> template
        self._by_tokens: dict[tuple[int, tuple[str, ...]], Template] = {}
        self._token_cache: dict[str, str] = {}  # token -> masked
        self._zero_tokens: dict[bytes, str] = {}  # token with digits as 0 -> masked

    # ------------------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, template_id: int) -> Template | None:
        return self._lru.get(template_id)

    def templates(self) -> list[Template]:
        """Live templates, most lines first."""
        return sorted(self._lru.values(), key=lambda t: (-t.count, t.id))

    def tokens(self, message: str) -> tuple[str, ...]:
        """The masked tokens of a message, as the miner sees them."""
        if len(message) > self.max_chars:
            message = message[: self.max_chars]
        if '"' in message or "'" in message:
            message = _STR_RE.sub(STR, message)
        cache = self._token_cache
        get = cache.get
        out = [get(t) or self._mask_token(t) for t in message.split()]
        return tuple(out)

    def match(self, level: int, message: str) -> Template | None:
        """The template a message would join, without learning from it."""
        tokens = self.tokens(message)
        hit = self._by_tokens.get((level, tokens))
        if hit is not None and hit.alive:
            return hit
        found = self._search(level, tokens)
        return found[0] if found is not None else None

    # ------------------------------------------------------------------------------ learning

    def add(self, ts: float, level: int, message: str, line: str | None = None) -> Template:
        """Learn one line and return its template. ``message`` is the line without its time
        and level (or a JSON line's message); ``line`` is what to keep as the template's example
        (default: ``"LEVEL message"``), redacted first."""
        self.lines += 1
        if len(message) > self.max_chars:
            message = message[: self.max_chars]
        fast = self._fast.get(level)
        if fast is None:
            fast = self._fast[level] = {}
        key = message.encode("utf-8", "surrogatepass").translate(_ZERO_DIGITS)
        template = fast.get(key)
        if template is None or not template.alive:
            tokens = self.tokens(message)
            template = self._slow(ts, level, tokens, message, line)
            # Digits left in the masked tokens ("/api/v2") would make the key ambiguous.
            if _DIGIT.search(" ".join(tokens)) is None:
                if len(fast) >= self.cache_size:
                    fast.clear()
                fast[key] = template
        else:
            self._lru.move_to_end(template.id)
        template.count += 1
        if ts > template.last_seen:
            template.last_seen = ts
        elif ts < template.first_seen:
            template.first_seen = ts
        return template

    def add_many(self, records: Iterable[tuple[float, int, str]]) -> None:
        add = self.add
        for ts, level, message in records:
            add(ts, level, message)

    # ------------------------------------------------------------------------------ internals

    def _mask_token(self, token: str) -> str:
        # A token unseen as such may be a known one with other digits (an id, a duration).
        zeroed = token.encode("utf-8", "surrogatepass").translate(_ZERO_DIGITS)
        masked = self._zero_tokens.get(zeroed)
        if masked is not None:
            return masked
        masked = mask_token(token)
        if masked != token and _DIGIT.search(masked) is None:
            # Digits, all masked: every token with this key masks the same way.
            cache: dict[Any, str] = self._zero_tokens
            key: Any = zeroed
        else:  # no digit (a word), or digits left as they are ("v2"): by the token itself
            cache, key = self._token_cache, token
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[key] = masked
        return masked

    def _slow(
        self, ts: float, level: int, tokens: tuple[str, ...], message: str, line: str | None
    ) -> Template:
        key = (level, tokens)
        template = self._by_tokens.get(key)
        if template is not None and template.alive:
            self._lru.move_to_end(template.id)
            return template
        found = self._search(level, tokens)
        if found is not None:
            template, _ = found
            self._merge(template, tokens)
            self._lru.move_to_end(template.id)
            if level > template.level:
                template.level = level
        else:
            template = self._create(ts, level, tokens, message, line)
        if len(self._by_tokens) >= self.cache_size:
            self._by_tokens.clear()
        self._by_tokens[key] = template
        return template

    def _search(self, level: int, tokens: tuple[str, ...]) -> tuple[Template, float] | None:
        node = self._roots.get((level, len(tokens)))
        if node is None:
            return None
        for token in tokens[: self.depth]:
            child = node.children.get(token) or node.children.get(WILDCARD)
            if child is None:
                return None
            node = child
        best: Template | None = None
        best_sim, best_wild = -1.0, -1
        n = len(tokens) or 1
        for template in node.templates:
            same = wild = 0
            for a, b in zip(template.tokens, tokens, strict=True):
                if a == b:
                    same += 1
                elif a == WILDCARD:
                    wild += 1
            sim = (same + wild) / n
            if sim > best_sim or (sim == best_sim and wild > best_wild):
                best, best_sim, best_wild = template, sim, wild
        if best is None or best_sim < self.similarity:
            return None
        return best, best_sim

    def _merge(self, template: Template, tokens: tuple[str, ...]) -> None:
        if template.tokens == tokens:
            return
        merged = tuple(
            a if a == b else WILDCARD for a, b in zip(template.tokens, tokens, strict=True)
        )
        if merged != template.tokens:
            template.tokens = merged
            template.text = self._text(merged)

    def _text(self, tokens: tuple[str, ...]) -> str:
        text = " ".join(tokens)
        return self.redact(text) if self.redact is not None else text

    def _create(
        self, ts: float, level: int, tokens: tuple[str, ...], message: str, line: str | None
    ) -> Template:
        example = line if line is not None else f"{LEVEL_NAMES.get(level, level)} {message}"
        if len(example) > self.max_example_chars:
            example = example[: self.max_example_chars] + "…"
        if self.redact is not None:
            example = self.redact(example)
        template = Template(self.uid, self._next_id, level, tokens, ts, example)
        template.text = self._text(tokens)
        self._next_id += 1
        # Route through the tree, making nodes as needed.
        container: dict[Any, _Node] = self._roots  # type: ignore[assignment]
        key: Any = (level, len(tokens))
        node = container.get(key)
        if node is None:
            node = container[key] = _Node()
        path: list[tuple[dict[Any, _Node], Any]] = [(container, key)]
        for token in tokens[: self.depth]:
            children = node.children
            child = children.get(token)
            if child is not None:
                key = token
            else:
                room = self.max_children - (0 if WILDCARD in children else 1)
                key = WILDCARD if _DIGIT.search(token) or len(children) >= room else token
                child = children.get(key)
                if child is None:
                    child = children[key] = _Node()
            path.append((children, key))
            node = child
        node.templates.append(template)
        template._leaf = node.templates
        template._path = path
        self._lru[template.id] = template
        while len(self._lru) > self.max_templates:
            self._evict()
        return template

    def _evict(self) -> None:
        _, old = self._lru.popitem(last=False)
        old.alive = False
        self.evicted += 1
        leaf = old._leaf
        if old in leaf:
            leaf.remove(old)
        # Drop nodes left empty, from the leaf up.
        for container, key in reversed(old._path):
            node = container.get(key)
            if node is None or node.children or node.templates:
                break
            del container[key]
        old._leaf, old._path = [], []


# --------------------------------------------------------------------------- raw lines


# A leading ISO 8601 time (pm2's --time prefix ends it with ":"), then an optional level word.
_LEAD_TS = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?:?\s+"
)
_LEAD_LEVEL = re.compile(
    r"\[?(?:ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE|FATAL|NOTICE|CRITICAL|VERBOSE)\]?:?(?:\s+|$)",
    re.IGNORECASE,
)


def _lead_time(match: re.Match[str], default_tz: tzinfo) -> float | None:
    stamp, zone = match.group(1).replace(",", "."), match.group(2)
    try:
        moment = datetime.fromisoformat(stamp.replace(" ", "T"))
    except ValueError:
        return None
    if zone is None:
        return moment.replace(tzinfo=default_tz).timestamp()
    if zone == "Z":
        return moment.replace(tzinfo=UTC).timestamp()
    if ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{stamp.replace(' ', 'T')}{zone}").timestamp()
    except ValueError:
        return None


def split_line(
    text: str,
    classifier: Classifier,
    *,
    stream: str = "out",
    default_ts: float | None = None,
    default_tz: tzinfo = UTC,
    level: int | None = None,
) -> tuple[float | None, int, str]:
    """``2026-12-07T13:01:52.577Z WARN price lookup failed for sku=1001, using 0`` ->
    ``(1796648512.577, WARN, "price lookup failed for sku=1001, using 0")``.

    The level is the Classifier's (as the log pane and the error counter judge the line; pass
    ``level`` when it is known already). A leading timestamp and level word are cut off the
    message; a JSON line (pino, bunyan, winston) gives its message field and its time. ``ts`` is
    ``default_ts`` (e.g. the arrival time) when the line has no time of its own; a time without
    a zone is taken in ``default_tz``."""
    stripped = text.lstrip()
    if stripped[:1] == "{" and classifier.format.format != "text":
        record = classifier.format.parse(stripped)
        if record is not None:
            if level is None:
                level = record.level
            if level is None:
                level = classifier.level(record.message, stream)
            ts = record.ts if record.ts is not None else default_ts
            return ts, level, record.message or record.rest
    if level is None:
        level = classifier.level(text, stream)
    ts = default_ts
    message = text
    m = _LEAD_TS.match(text)
    if m is not None:
        found = _lead_time(m, default_tz)
        if found is not None:
            ts = found
        message = text[m.end() :]
    lead = _LEAD_LEVEL.match(message)
    if lead is not None:
        message = message[lead.end() :]
    return ts, level, message.strip()


def split_lines(
    texts: Sequence[str],
    classifier: Classifier,
    *,
    stream: str = "out",
    default_ts: float | None = None,
    default_tz: tzinfo = UTC,
) -> list[tuple[float | None, int, str]]:
    """``split_line`` for a batch, with the Classifier's batch path for the levels."""
    levels = classifier.levels(list(texts), stream)
    return [
        split_line(t, classifier, stream=stream, default_ts=default_ts, default_tz=default_tz,
                   level=lv)
        for t, lv in zip(texts, levels, strict=True)
    ]  # fmt: skip


__all__ = [
    "HEX",
    "IP",
    "NUM",
    "STR",
    "TS",
    "UUID",
    "WILDCARD",
    "Template",
    "TemplateMiner",
    "mask",
    "mask_token",
    "split_line",
    "split_lines",
]
