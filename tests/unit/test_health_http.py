"""HTTP probing against a real local asyncio server: retries, timeouts, garbage, JSON paths."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from tui.core.config_models import HealthConfig
from tui.core.health_http import MAX_BODY_BYTES, budget_s, http_get
from tui.core.transport import LocalTransport
from tui.core.verify_checks import FAIL, PASS, json_path, judge_health, judge_status

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def response(status: int, body: bytes | str, ctype: str = "application/json") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class TinyServer:
    """Answers by path from a table; records each request's path and Host header."""

    routes: dict[str, Callable[[], bytes | None]]
    seen: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            path = head.split(" ", 2)[1]
            host = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in head.split("\r\n")
                    if ln.lower().startswith("host:")
                ),
                "",
            )
            self.seen.append((path, host))
            answer = self.routes.get(path, lambda: response(404, "{}"))()
            if answer is None:  # hang: accept, read, never answer
                await asyncio.sleep(3600)
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def server() -> AsyncIterator[TinyServer]:
    flaky = iter([response(503, "{}"), response(503, "{}")])
    tiny = TinyServer(
        {
            "/health": lambda: response(200, '{"status":"ok"}'),
            "/status": lambda: response(
                200, json.dumps({"data": {"state": "ok", "build": {"version": "2.1.0"}}})
            ),
            "/degraded": lambda: response(200, '{"status":"degraded","version":"1.1.0"}'),
            "/garbage": lambda: b"SSH-2.0-OpenSSH_9.2 not http at all\r\n\r\n",
            "/notjson": lambda: response(200, "<html>hello</html>", "text/html"),
            "/flaky": lambda: next(flaky, response(200, '{"status":"ok"}')),
            "/hang": lambda: None,
            "/huge": lambda: response(200, b"x" * (MAX_BODY_BYTES * 2)),
            "/404": lambda: response(404, "{}"),
            "/close": lambda: b"",
        }
    )
    srv = await asyncio.start_server(tiny.handle, "127.0.0.1", 0)
    tiny.port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield tiny
        srv.close()


LOCAL = LocalTransport()


async def get(url: str, *, timeout_s: float = 2.0, retries: int = 0):
    return await http_get(url, LOCAL, timeout_s=timeout_s, retries=retries, backoff_s=0.05)


async def test_health_200_passes(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/health")))
    assert (result.status, result.line) == (PASS, "Health Check: PASS")
    assert result.data["status_code"] == 200 and result.data["latency_ms"] is not None


async def test_non_200_fails_with_the_status(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/404"), retries=3))
    assert result.line == "Health Check: FAIL (HTTP 404)"  # a 404 is not retried
    assert result.data["attempts"] == 1


async def test_retries_with_backoff_until_it_answers(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/flaky"), retries=3))
    assert result.status == PASS
    assert result.data["attempts"] == 3
    assert [p for p, _ in server.seen] == ["/flaky"] * 3


async def test_retries_run_out(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/flaky"), retries=1))
    assert result.line == "Health Check: FAIL (HTTP 503 after 2 attempts)"


async def test_hanging_endpoint_fails_within_its_budget(server: TinyServer) -> None:
    t0 = time.monotonic()
    probe = await get(server.url("/hang"), timeout_s=0.5, retries=1)
    elapsed = time.monotonic() - t0
    result = judge_health(probe)
    assert result.status == FAIL
    assert "no answer from 127.0.0.1:" in result.detail and "within 0.5s" in result.detail
    assert result.detail.endswith("after 2 attempts")
    assert elapsed < budget_s(0.5, 1, 0.05) + 1.0


async def test_garbage_answer_fails_in_one_line(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/garbage")))
    assert result.status == FAIL
    assert "invalid HTTP answer" in result.detail
    assert "\n" not in result.line


async def test_closed_without_answer(server: TinyServer) -> None:
    result = judge_health(await get(server.url("/close")))
    assert result.line == (
        f"Health Check: FAIL (127.0.0.1:{server.port} closed the connection without answering"
        " (is the app listening there?))"
    )


async def test_connection_refused(server: TinyServer) -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    result = judge_health(await get(f"http://127.0.0.1:{port}/health"))
    assert (
        result.line
        == f"Health Check: FAIL (cannot connect to 127.0.0.1:{port}: connection refused)"
    )


async def test_huge_body_is_capped(server: TinyServer) -> None:
    probe = await get(server.url("/huge"))
    assert probe.status_code == 200 and len(probe.body) == MAX_BODY_BYTES


# ------------------------------------------------------------------------- API status


def health_cfg(**kw: object) -> HealthConfig:
    return HealthConfig(**kw)  # type: ignore[arg-type]


async def test_status_json_path_and_version(server: TinyServer) -> None:
    cfg = health_cfg(status_path="data.state", version_path="data.build.version")
    result = judge_status(await get(server.url("/status")), cfg)
    assert result.line == "API Status: PASS (version 2.1.0)"
    assert result.data["version"] == "2.1.0" and result.data["value"] == "ok"


async def test_status_wrong_value_fails(server: TinyServer) -> None:
    result = judge_status(await get(server.url("/degraded")), health_cfg())
    assert result.line == "API Status: FAIL (status is 'degraded', expected 'ok')"
    assert result.data["version"] == "1.1.0"


async def test_status_missing_path_fails(server: TinyServer) -> None:
    result = judge_status(await get(server.url("/status")), health_cfg(status_path="data.nope"))
    assert result.line == "API Status: FAIL (no 'data.nope' in the answer)"


async def test_status_not_json_fails(server: TinyServer) -> None:
    result = judge_status(await get(server.url("/notjson")), health_cfg())
    assert result.line == "API Status: FAIL (answer is not JSON: '<html>hello</html>')"


async def test_status_garbage_and_hang_fail(server: TinyServer) -> None:
    assert judge_status(await get(server.url("/garbage")), health_cfg()).status == FAIL
    hung = judge_status(await get(server.url("/hang"), timeout_s=0.3), health_cfg())
    assert hung.status == FAIL and "within 0.3s" in hung.detail


@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({"a": {"b": [1, {"c": "x"}]}}, "a.b.1.c", "x"),
        ({"a": [1, 2, 3]}, "a.-1", 3),
        ({"a": True}, "a", True),
        ({"a": {"b": 1}}, "", {"a": {"b": 1}}),
    ],
)
def test_json_path(doc: object, path: str, expected: object) -> None:
    assert json_path(doc, path) == expected


@pytest.mark.parametrize(("doc", "path"), [({"a": 1}, "b"), ({"a": [1]}, "a.5"), ({"a": 1}, "a.b")])
def test_json_path_missing(doc: object, path: str) -> None:
    from tui.core.verify_checks import _MISSING

    assert json_path(doc, path) is _MISSING


async def test_status_compares_non_strings_as_json(server: TinyServer) -> None:
    server.routes["/bool"] = lambda: response(200, '{"healthy": true}')
    cfg = health_cfg(status_path="healthy", status_expected="true", version_path="")
    assert judge_status(await get(server.url("/bool")), cfg).line == "API Status: PASS"
