r"""Redaction of secrets from any text before it is stored or shown.

The journal passes every free-text field through a Redactor before writing, so a
secret that reaches the journal file has already been masked. Two kinds of rules:

* literal secret values (env var values named in config, the DB password, webhook
  URLs): every occurrence becomes ``***``. Values shorter than MIN_SECRET_LEN are
  ignored: a one- to three-character "secret" (``"1"``, ``"yes"``) would blank out
  half of every log line and hide what happened, while being guessable anyway.
* regex patterns from config: a pattern with groups keeps the key and masks the
  value (``password=hunter2`` -> ``password=***``): the groups are the key, what
  follows them (after ``=``/``:``/blanks) is the value. When nothing follows the
  groups, the last group is taken as the value (``Bearer (\S+)`` -> ``Bearer ***``).
  A pattern without groups masks the whole match. A group named ``secret``
  (``(?P<secret>...)``) marks exactly the part to mask.

Credentials in URLs (``https://user:pass@host``) are always masked to
``https://user:***@host``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

MASK = "***"
MIN_SECRET_LEN = 4
# The path of a webhook URL is itself a credential (Slack's /services/T../B../xxx),
# but short paths like "/api" are everywhere; only paths this long are masked alone.
MIN_URL_PATH_LEN = 16

_URL_CREDENTIALS = re.compile(
    r"(?P<prefix>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@/\s]+)(?=@)"
)
# After the last group of a key/value pattern: separators and an opening quote stay.
_SEPARATOR = re.compile(r"""[\s=:]*["']?""")


class Redactor:
    """Masks secret values and pattern matches in text. Immutable after construction
    except through add_values(), which swaps the compiled rules in one assignment so
    a concurrent caller sees either the old or the new rules, never a mix."""

    def __init__(self, secret_values: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self._patterns: tuple[re.Pattern[str], ...] = tuple(_compile(p) for p in patterns)
        self._values: frozenset[str] = frozenset()
        self._literal: re.Pattern[str] | None = None
        self.add_values(secret_values)

    @classmethod
    def from_config(
        cls,
        cfg: Any,
        environ: Mapping[str, str] = os.environ,
        extra_values: Iterable[str] = (),
    ) -> Redactor:
        """Secrets named by a Config: values of ``secrets.env_vars`` and of
        ``database.password_env`` taken from ``environ``, every URL of
        ``notify.webhooks``, and the ``secrets.patterns``. Duck-typed: missing
        sections or attributes count as empty."""
        secrets = getattr(cfg, "secrets", None)
        database = getattr(cfg, "database", None)
        notify = getattr(cfg, "notify", None)
        names = list(getattr(secrets, "env_vars", ()) or ())
        password_env = getattr(database, "password_env", "") or ""
        if password_env:
            names.append(password_env)
        values = [environ.get(name, "") for name in names]
        for url in getattr(notify, "webhooks", ()) or ():
            values.extend(_url_variants(str(url)))
        values.extend(extra_values)
        patterns = getattr(secrets, "patterns", ()) or ()
        return cls(values, patterns)

    def add_values(self, values: Iterable[str]) -> None:
        """Learn more literal secrets (e.g. a password read after start-up)."""
        new = set(self._values)
        for value in values:
            if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
                continue
            new.add(value)
            encoded = quote(value, safe="")
            if encoded != value:
                new.add(encoded)
        if new == self._values:
            return
        # Longest first so a secret that contains another is masked whole.
        ordered = sorted(new, key=len, reverse=True)
        literal = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self._values, self._literal = frozenset(new), literal

    @property
    def secret_count(self) -> int:
        return len(self._values)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        literal = self._literal
        if literal is not None:
            text = literal.sub(MASK, text)
        for pattern in self._patterns:
            text = pattern.sub(_mask_match, text)
        return _URL_CREDENTIALS.sub(_mask_match, text)

    def redact_obj(self, obj: Any) -> Any:
        """Redact a JSON-like structure: strings (keys too) recursively; lists and
        tuples become lists; numbers, bools and None pass; anything else is turned
        into its str() and redacted, so a stray Path or datetime never breaks a write."""
        if isinstance(obj, str):
            return self(obj)
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        if isinstance(obj, Mapping):
            return {self(str(k)): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple | set | frozenset):
            return [self.redact_obj(v) for v in obj]
        return self(str(obj))


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(f"bad secret pattern {pattern!r}: {err}") from None


def _mask_match(match: re.Match[str]) -> str:
    pattern = match.re
    text = match.group(0)
    start = match.start()
    if "secret" in pattern.groupindex:
        s, e = match.span("secret")
        if s < 0:
            return text
        return text[: s - start] + MASK + text[e - start :]
    if pattern.groups == 0:
        return MASK
    # Groups mark the key: keep everything up to the end of the last group that
    # took part, plus the separator after it, and mask the rest (the value). When
    # nothing follows the groups (``Bearer\s+(\S+)``) the last group is the value.
    spans = [match.span(i) for i in range(1, pattern.groups + 1) if match.start(i) >= 0]
    if not spans:
        return MASK
    g_start, g_end = max(spans, key=lambda span: span[1])
    sep = _SEPARATOR.match(text, g_end - start)
    keep = sep.end() if sep else g_end - start
    if keep < len(text):
        return text[:keep] + MASK
    if g_end > g_start:
        return text[: g_start - start] + MASK + text[g_end - start :]
    return text  # the value is empty: nothing to mask


def _url_variants(url: str) -> list[str]:
    """A webhook URL, and its path alone when long enough to be the secret part
    (error messages often quote only the path)."""
    url = url.strip()
    variants = [url, url.rstrip("/")]
    try:
        parts = urlsplit(url)
    except ValueError:
        return variants
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) >= MIN_URL_PATH_LEN:
        variants.append(tail)
    return variants
