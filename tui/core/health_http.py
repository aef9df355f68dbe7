"""One HTTP GET as the app's own host sees it: through an SSH port forward, bounded in time.

The URL in the config is the app's view from its host (``http://localhost:3000/health``). For an
SSH host the transport forwards a local port to that host:port and the request goes to
127.0.0.1:<local port> with the original Host header (and SNI for https), so the target needs no
curl. Every attempt has a hard deadline (``asyncio.timeout``, not only httpx's per-phase ones, so a
server that drips bytes cannot stretch it), bodies are read up to a cap, and failures come back as
one readable line instead of an exception.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.core.transport_errors import one_line

if TYPE_CHECKING:
    import httpx

# httpx (~0.1 s to import, with its TLS and certifi set-up) is imported where a request is made,
# not with this module: the checklist imports this module and sits on the console's start-up path.

# Doubling pause between attempts, capped: a finishing reload gets a moment, a dead app costs
# little.
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 4.0
# A health or status body is small; anything past this is not an answer we want to hold in memory.
MAX_BODY_BYTES = 1 << 20
# Opening the forward may have to (re)connect SSH; the transport's own connect timeout is 10 s.
FORWARD_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Probe:
    url: str
    status_code: int | None  # None when no HTTP answer came at all
    body: bytes = b""
    error: str = ""  # one line when status_code is None
    latency_ms: float | None = None
    attempts: int = 1

    @property
    def answered(self) -> bool:
        return self.status_code is not None


_SSL: ssl.SSLContext | None = None
_FORWARD_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def _ssl_context() -> ssl.SSLContext:
    # httpx builds a fresh certifi context per client (~50 ms, ~240 ms the first time); a health
    # probe every few seconds should not pay that, nor have it counted as the app's latency.
    global _SSL
    if _SSL is None:
        try:
            import certifi

            _SSL = ssl.create_default_context(cafile=certifi.where())
        except ImportError:
            _SSL = ssl.create_default_context()
    return _SSL


def backoff_delays(retries: int, base: float = BACKOFF_BASE_S) -> list[float]:
    return [min(base * 2**i, BACKOFF_MAX_S) for i in range(retries)]


def _is_local(transport: Any) -> bool:
    host = getattr(transport, "host", None)
    return getattr(host, "transport", "ssh") == "local"


def _default_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def _route(
    transport: Any, url: httpx.URL
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL to request, headers and extensions that make it reach ``url`` as its host sees it."""
    if transport is None or _is_local(transport):
        return url, {}, {}
    host = url.host
    lock = _FORWARD_LOCKS.setdefault(transport, asyncio.Lock())
    # One at a time per transport: two checks asking for the same forward at once would each
    # open a listener (the transport caches only after the open returns).
    async with asyncio.timeout(FORWARD_TIMEOUT_S), lock:
        local_port = await transport.forward_local_port(host, _default_port(url))
    routed = url.copy_with(host="127.0.0.1", port=local_port)
    ext: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
    return routed, {"Host": url.netloc.decode("ascii")}, ext


def _root_reason(exc: BaseException) -> str:
    """httpx says "All connection attempts failed"; the OSError underneath says why."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return one_line(exc) or type(exc).__name__


def describe_error(exc: BaseException, where: str, timeout_s: float) -> str:
    import httpx

    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer from {where} within {timeout_s:g}s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where}: {_root_reason(exc)}"
    closed = f"{where} closed the connection without answering (is the app listening there?)"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = one_line(exc)
        if "without sending" in text or not text:
            return closed
        return f"{where} sent an invalid HTTP answer ({text})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError) and not one_line(exc):
        # Through an SSH forward a refused remote port looks like this: the forward accepts,
        # the host cannot connect, the forward hangs up.
        return closed
    if isinstance(exc, httpx.HTTPError | OSError):
        return f"{where}: {type(exc).__name__}: {one_line(exc) or 'no detail'}"
    return f"{where}: {one_line(exc) or type(exc).__name__}"


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            break
    return bytes(body[:MAX_BODY_BYTES])


async def _attempt(url: str, transport: Any, timeout_s: float) -> Probe:
    import httpx

    parsed = httpx.URL(url)
    where = parsed.netloc.decode("ascii") or url
    try:
        routed, headers, ext = await _route(transport, parsed)
    except TimeoutError:
        return Probe(url, None, error=f"no SSH forward to {where} within {FORWARD_TIMEOUT_S:g}s")
    except Exception as exc:  # a TransportError or asyncssh's own: one line either way
        return Probe(url, None, error=f"cannot forward to {where}: {one_line(exc)}")
    try:
        # trust_env=False: an HTTP(S)_PROXY in the operator's env must not swallow 127.0.0.1.
        async with (
            asyncio.timeout(timeout_s),
            httpx.AsyncClient(timeout=timeout_s, trust_env=False, verify=_ssl_context()) as client,
        ):
            t0 = time.monotonic()
            async with client.stream("GET", routed, headers=headers, extensions=ext) as response:
                body = await _read_capped(response)
                code = response.status_code
            latency_ms = round((time.monotonic() - t0) * 1000, 1)
    except Exception as exc:
        return Probe(url, None, error=describe_error(exc, where, timeout_s))
    return Probe(url, code, body, latency_ms=latency_ms)


def _retryable(probe: Probe) -> bool:
    code = probe.status_code
    return code is None or code >= 500 or code == 429


async def http_get(
    url: str,
    transport: Any,
    *,
    timeout_s: float,
    retries: int,
    backoff_s: float = BACKOFF_BASE_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Probe:
    """GET ``url`` with up to ``retries`` more attempts on no answer, 5xx or 429.

    Worst case takes ``(retries + 1) * timeout_s`` plus the backoff pauses (plus the forward
    set-up once); it never raises for network trouble.
    """
    delays = backoff_delays(retries, backoff_s)
    probe = await _attempt(url, transport, timeout_s)
    attempts = 1
    for delay in delays:
        if not _retryable(probe):
            break
        await sleep(delay)
        probe = await _attempt(url, transport, timeout_s)
        attempts += 1
    return Probe(probe.url, probe.status_code, probe.body, probe.error, probe.latency_ms, attempts)


def budget_s(timeout_s: float, retries: int, backoff_s: float = BACKOFF_BASE_S) -> float:
    """The longest ``http_get`` may take once the forward is open."""
    return (retries + 1) * timeout_s + sum(backoff_delays(retries, backoff_s))
