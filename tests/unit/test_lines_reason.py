"""A failed command's one line is its most telling line, not its last."""

from __future__ import annotations

from tui.core.lines import last_line, telling_line
from tui.core.transport import Result

NPM_SCRIPT_FAILED = """> orders@1.0.0 build
> node build.js

/srv/app/build.js:1
throw new Error("cannot find src/index.ts")
^

Error: cannot find src/index.ts
    at Object.<anonymous> (/srv/app/build.js:1:7)

Node.js v20.20.2
npm error Lifecycle script `build` failed with error:
npm error code 1
npm error path /srv/app
npm error command failed
npm error command sh -c node build.js
npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log
"""

NPM_CI_404 = """npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found
npm error 404
npm error A complete log of this run can be found in: /root/.npm/_logs/x.log
"""

NPM_OLD = """npm ERR! code ENOENT
npm ERR! syscall open
npm ERR! enoent Could not read package.json
npm ERR! A complete log of this run can be found in:
npm ERR!     /root/.npm/_logs/2026.log
"""


def result(stderr: str, stdout: str = "", status: int = 1) -> Result:
    return Result(("npm",), status, stdout, stderr, 0.1)


def test_a_thrown_error_beats_npms_trailer() -> None:
    assert last_line(result(NPM_SCRIPT_FAILED)) == "Error: cannot find src/index.ts"


def test_npms_own_reason_not_its_metadata_or_log_path() -> None:
    assert last_line(result(NPM_CI_404)) == (
        "npm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found"
    )
    assert last_line(result(NPM_OLD)) == "npm ERR! enoent Could not read package.json"


def test_plain_output_keeps_its_last_line_stderr_first() -> None:
    assert last_line(result("warming up\ndisk full\n", "stdout line\n")) == "disk full"
    assert last_line(result("", "one\ntwo\n")) == "two"
    assert last_line(result("", "")) == "no output"
    assert telling_line("fatal: not a git repository (or any parent)") == (
        "fatal: not a git repository (or any parent)"
    )
    assert telling_line("boom\nNode.js v20.20.2\n") == "boom"
