"""quote_command: whatever the strings, a shell runs exactly the argv and nothing else.

Each example is executed for real by ``sh -c`` through LocalTransport. A canary file that any
successful injection would create must never appear.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.transport_contract import NASTY, nul_joined
from tui.core.shellquote import LineSplitter, check_argv, quote_command
from tui.core.transport import LocalTransport

CANARY = Path(f"/tmp/shipdeck-canary-{uuid.uuid4().hex}")
INJECTIONS = (
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"; touch {CANARY}",
    f"&& touch {CANARY}",
    f"| touch {CANARY}",
    f"\ntouch {CANARY}",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"$(touch {CANARY}",
    f"${{x:-$(touch {CANARY})}}",
)

# Any text a config file could hold: no NUL (no argv can carry it), no lone surrogates.
TEXT = st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=40)
ARG = st.one_of(st.sampled_from(NASTY + INJECTIONS), TEXT)


def sh(command: str, **kw: object) -> str:
    async def go() -> str:
        r = await LocalTransport().run(["sh", "-c", command], timeout=20, **kw)  # type: ignore[arg-type]
        assert r.exit_status == 0, r.stderr
        return r.stdout

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _no_canary() -> object:
    CANARY.unlink(missing_ok=True)
    yield
    assert not CANARY.exists(), "an injected command ran"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=st.lists(ARG, min_size=1, max_size=8))
@example(args=list(INJECTIONS))
@example(args=list(NASTY))
def test_argv_survives_the_shell_exactly(args: list[str]) -> None:
    assert sh(quote_command(["printf", "%s\\0", *args])) == nul_joined(args)
    assert not CANARY.exists()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=ARG, dirname=ARG.filter(lambda s: s not in ("", ".", "..") and "/" not in s))
def test_env_and_cwd_survive_the_shell_exactly(value: str, dirname: str, tmp_path: Path) -> None:
    try:
        cwd = tmp_path / dirname
        cwd.mkdir(exist_ok=True)
    except OSError:  # a name the filesystem refuses (too long) is not our concern
        return
    line = quote_command(
        # Not "$(pwd)": command substitution would strip a trailing newline of the name.
        ["sh", "-c", 'printf "%s\\0" "$SHIPDECK_V"; pwd -P'],
        env={"SHIPDECK_V": value},
        cwd=str(cwd),
    )
    assert sh(line) == nul_joined([value]) + os.path.realpath(cwd) + "\n"
    assert not CANARY.exists()


def test_shape_of_the_command_line() -> None:
    assert quote_command(["ls", "-l"]) == "exec ls -l"
    assert quote_command(["echo", "a b"], env={"A": "1"}, cwd="/srv/app") == (
        "cd -- /srv/app && A=1 exec echo 'a b'"
    )
    # argv[0] with "=" is still the program, never an assignment.
    assert quote_command(["X=1", "y"]) == "exec X=1 y"


@pytest.mark.parametrize(
    ("argv", "env", "cwd", "message"),
    [
        ([], None, None, "argv is empty"),
        ("ls -l", None, None, "not a single string"),
        (b"ls", None, None, "not a single string"),
        (["ls", 3], None, None, "argv[1] must be a str, not int"),
        (["ls", None], None, None, "argv[1] must be a str, not NoneType"),
        (["ls", "a\0b"], None, None, "NUL byte"),
        (["ls", "\udcff"], None, None, "not valid UTF-8"),
        ([""], None, None, "argv[0] is empty"),
        (["-rf"], None, None, "must not start with '-'"),
        (["ls"], {"A B": "1"}, None, "not a valid variable name"),
        (["ls"], {"1A": "1"}, None, "not a valid variable name"),
        (["ls"], {"A;rm": "1"}, None, "not a valid variable name"),
        (["ls"], {"A": 1}, None, "env[A] must be a str"),
        (["ls"], None, "", "cwd is empty"),
        (["ls"], None, "/a\0b", "NUL byte"),
    ],
)
def test_bad_input_is_a_clear_value_error(
    argv: object, env: object, cwd: object, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        quote_command(argv, env, cwd)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_check_argv_returns_a_tuple() -> None:
    assert check_argv(["a", "b"]) == ("a", "b")


@settings(max_examples=300)
@given(
    lines=st.lists(TEXT.filter(lambda s: "\n" not in s and "\r" not in s), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
    trailing=st.booleans(),
)
def test_line_splitter_is_independent_of_chunking(
    lines: list[str], cuts: list[int], trailing: bool
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if trailing and lines else b"")
    splitter = LineSplitter()
    got: list[str] = []
    prev = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        got += splitter.feed(data[prev:cut])  # cuts may fall inside a UTF-8 sequence
        prev = cut
    got += splitter.flush()
    # Without a final newline an empty last "line" is no line at all.
    expected = lines if trailing or not lines or lines[-1] else lines[:-1]
    assert got == (expected if data else [])


def test_line_splitter_cuts_overlong_lines() -> None:
    splitter = LineSplitter(max_line=4)
    assert splitter.feed(b"abcdefghij") == ["abcd", "efgh"]
    assert splitter.feed(b"\n") == ["ij"]
    assert splitter.flush() == []
