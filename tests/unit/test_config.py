"""Config: the malformed corpus, the example's defaults, discovery, and the models."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core import config as config_module
from tui.core.config import (
    BuildStep,
    Config,
    ConfigError,
    HealthConfig,
    HostConfig,
    PolicyConfig,
    Problem,
    StepsConfig,
    check_config,
    find_config_path,
    load_config,
)
from tui.core.config_lines import key_lines
from tui.core.config_schema import element_class, kind_of, toml_fields

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
CORPUS = Path(__file__).resolve().parent / "config_corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.toml"))
EXPECT = re.compile(rb"^# expect: (.*)$", re.MULTILINE)
EXPECT_PARTS = re.compile(r"^(\d+): ([^ ]+): (.*?) \((.*)\)$")

MINIMAL = """\
[app]
name = "shop-api"
root = "/srv/shop-api"

[[hosts]]
name = "web1"
address = "10.0.0.5"
"""


def write(tmp_path: Path, text: str, name: str = "shipdeck.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- the malformed corpus ---------------------------------------------------------


def expectations(path: Path) -> list[str]:
    """The `# expect: LINE: KEY: message (hint)` lines at the top of a corpus file."""
    return [m.decode() for m in EXPECT.findall(path.read_bytes())]


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS_FILES) >= 25
    for path in CORPUS_FILES:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_case(path: Path) -> None:
    expected = [e.replace("{dir}", str(CORPUS)) for e in expectations(path)]
    config, problems = check_config(path)
    assert config is None
    assert [str(p) for p in problems] == [f"{path}:{e}" for e in expected]
    for problem, line in zip(problems, expected, strict=True):
        m = EXPECT_PARTS.match(line)
        assert m, f"malformed expectation: {line}"
        assert (problem.line, problem.key, problem.message, problem.hint) == (
            int(m.group(1)),
            m.group(2),
            m.group(3),
            m.group(4),
        )
        assert problem.file == str(path)
        assert problem.key != "internal"
        assert "\n" not in str(problem)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == problems
    assert str(err.value) == "\n".join(str(p) for p in problems)


def test_webhook_urls_are_never_echoed(tmp_path: Path) -> None:
    text = MINIMAL + '\n[notify]\nwebhooks = ["hooks.example.com/SECRETTOKEN"]\n'
    _, problems = check_config(write(tmp_path, text))
    assert [p.key for p in problems] == ["notify.webhooks[1]"]
    assert "SECRETTOKEN" not in str(problems[0])


def test_problems_are_sorted_by_line() -> None:
    _, problems = check_config(CORPUS / "many_problems.toml")
    assert len(problems) >= 5
    assert [p.line for p in problems] == sorted(p.line for p in problems)


# ---- file-level problems ----------------------------------------------------------


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    config, problems = check_config(path)
    assert config is None
    assert [str(p) for p in problems] == [
        f"{path}:1: file: file not found (check the path, or copy config.example.toml there)"
    ]


def test_directory(tmp_path: Path) -> None:
    _, problems = check_config(tmp_path)
    assert [str(p) for p in problems] == [
        f"{tmp_path}:1: file: is a directory, not a file (give the path of a .toml file)"
    ]


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 does not stop root, so make the read itself fail
    path = write(tmp_path, MINIMAL)

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    _, problems = check_config(path)
    assert [str(p) for p in problems] == [
        f"{path}:1: file: cannot read the file: permission denied (make it readable by this user)"
    ]


def test_empty_file_reports_missing_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    _, problems = check_config(path)
    assert [(p.line, p.key) for p in problems] == [(1, "app"), (1, "hosts")]


def test_internal_error_becomes_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Any, doc: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(config_module.Checker, "build", boom)
    path = write(tmp_path, MINIMAL)
    config, problems = check_config(path)
    assert config is None
    assert len(problems) == 1
    assert str(problems[0]).startswith(
        f"{path}:1: internal: unexpected RuntimeError while checking the config: kaboom ("
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=st.integers(min_value=0, max_value=400),
    value=st.one_of(
        st.text(max_size=20).map(json.dumps),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.booleans().map(lambda b: "true" if b else "false"),
        st.just("[]"),
        st.just("{}"),
        st.just("[1, 'a']"),
        st.just("{ a = 1 }"),
        st.just("1979-05-27"),
        st.text(max_size=10),
    ),
)
def test_never_a_traceback(line: int, value: str) -> None:
    """Replace one value of the example with anything: always a Config or Problems."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    targets = [i for i, text in enumerate(lines) if re.match(r"^\w+ = ", text)]
    i = targets[line % len(targets)]
    lines[i] = lines[i].split(" = ", 1)[0] + " = " + value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "shipdeck.toml")
        path.write_text("\n".join(lines), encoding="utf-8")
        config, problems = check_config(path)
    assert (config is None) == bool(problems)
    assert all(p.key != "internal" for p in problems), problems
    assert all("\n" not in str(p) for p in problems)


# ---- the example and the defaults -------------------------------------------------


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.app.name == "shop-api"
    assert config.app.root == "/srv/shop-api"
    assert len(config.hosts) == 1
    assert config.primary_host.name == "web1"
    assert config.source == EXAMPLE


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _compare(cls: type, raw: dict[str, Any], loaded: Any, where: str) -> int:
    """Every schema key is in the example, none more, and each optional one has its default."""
    fields = toml_fields(cls)
    assert set(raw) == set(fields), f"[{where}] keys differ from the schema"
    seen = 0
    for name, f in fields.items():
        kind = kind_of(f)
        if kind == "table":
            seen += _compare(f.type, raw[name], getattr(loaded, name), f"{where}.{name}")  # type: ignore[arg-type]
        elif f.metadata.get("required") and kind == "tables":
            # the example's one [[hosts]] entry shows every host key
            elem = element_class(f)
            seen += _compare(elem, raw[name][0], getattr(loaded, name)[0], f"{where}.{name}[1]")
        elif f.metadata.get("required"):
            assert raw[name], f"{where}.{name} needs a realistic example value"
            seen += 1
        else:
            assert getattr(loaded, name) == _default(f), f"{where}.{name} is not the default"
            seen += 1
    return seen


def test_example_lists_every_key_with_its_default() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    loaded = load_config(EXAMPLE)
    # compare against the schema's own default instance too, not only field defaults
    assert loaded.steps == StepsConfig()
    assert loaded.health == HealthConfig()
    assert _compare(Config, raw, loaded, "") >= 80  # the walk really went into every section


def test_example_comments_every_key() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Za-z_][\w-]* = ", line):
            assert lines[i - 1].startswith("# "), f"line {i + 1} ({line!r}) has no comment above it"


def test_defaults_of_a_minimal_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.app.backend == "pm2"
    assert config.app.layout == "releases"
    assert config.app.keep_releases == 5
    assert config.hosts == (HostConfig(name="web1", address="10.0.0.5"),)
    assert config.hosts[0].port == 0  # unset: ~/.ssh/config's Port, else 22 (ssh_target)
    assert config.steps.build == BuildStep()
    assert config.steps.build.install == ("npm", "ci", "--production")
    assert config.steps.build.migrate == ()
    assert config.steps.deploy.reload == ("pm2", "reload", "{ecosystem}", "--update-env")
    assert config.health.timeout_s == 5.0
    assert config.policy == PolicyConfig()
    assert config.policy.no_deploy_days == ("Fri",)
    assert config.database.enabled is False
    assert dict(config.keymap) == {}
    assert config.checklist.items == ()


def test_int_accepted_for_float(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "\n[health]\ntimeout_s = 7\n"))
    assert config.health.timeout_s == 7.0
    assert isinstance(config.health.timeout_s, float)


# ---- values -----------------------------------------------------------------------


def test_string_commands_are_split_never_shelled(tmp_path: Path) -> None:
    text = MINIMAL + (
        "\n[steps.build]\n"
        "install = \"npm ci --prefix 'my dir'\"\n"
        'build = ["npm", "run", "build; rm -rf /"]\n'
        'migrate = "npm run migrate; echo $(id)"\n'
        "\n[steps.rollback]\n"
        'migrate_down = ""\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.steps.build.install == ("npm", "ci", "--prefix", "my dir")
    assert config.steps.build.build == ("npm", "run", "build; rm -rf /")
    assert config.steps.build.migrate == ("npm", "run", "migrate;", "echo", "$(id)")
    assert config.steps.rollback.migrate_down == ()


def test_relative_and_home_paths_are_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "keys").mkdir(parents=True)
    (conf_dir / "keys" / "id_ed25519").write_text("key")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("hosts")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # relative to the config file, not the working directory
    text = MINIMAL + 'identity_file = "keys/id_ed25519"\nknown_hosts = "~/.ssh/known_hosts"\n'
    config = load_config(write(conf_dir, text))
    assert config.hosts[0].identity_file == str(conf_dir / "keys" / "id_ed25519")
    assert config.hosts[0].known_hosts == str(home / ".ssh" / "known_hosts")
    assert config.source == conf_dir / "shipdeck.toml"


def test_local_transport_needs_no_address(tmp_path: Path) -> None:
    text = '[app]\nname = "demo"\nroot = "/tmp/demo"\n\n'
    text += '[[hosts]]\nname = "local"\ntransport = "local"\n'
    config = load_config(write(tmp_path, text))
    assert config.primary_host.transport == "local"
    assert config.primary_host.address == ""


def test_full_featured_config_loads(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[hosts]]\nname = "web2"\naddress = "10.0.0.6"\nport = 2222\n'
        '\n[database]\nenabled = true\nname = "shop"\nrun_on = "web2"\n'
        '\n[[checklist.items]]\nid = "smoke"\nlabel = "Smoke"\n'
        'command = "npm test"\njudge = "exit0"\n'
        '\n[keymap]\ndeploy = "ctrl+d"\n'
    )
    config = load_config(write(tmp_path, text))
    assert [h.name for h in config.hosts] == ["web1", "web2"]
    assert config.hosts[1].port == 2222
    assert config.database.run_on == "web2"
    assert config.checklist.items[0].command == ("npm", "test")
    assert config.keymap == {"deploy": "ctrl+d"}


# ---- models -----------------------------------------------------------------------


def test_models_are_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + '\n[keymap]\ndeploy = "ctrl+d"\n'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.app.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hosts[0].port = 2222  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.steps = StepsConfig()  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.keymap["deploy"] = "x"  # type: ignore[index]
    assert hash(config) == hash(load_config(config.source))  # hashable all the way down
    assert isinstance(config.hosts, tuple)
    assert isinstance(config.steps.build.install, tuple)
    assert isinstance(config.policy.no_deploy_days, tuple)


def test_problem_and_error_format() -> None:
    a = Problem("c.toml", 3, "app.name", "missing required key", 'add name = "x" under [app]')
    b = Problem("c.toml", 9, "hosts[2].port", "70000 is out of range", "1..65535")
    assert str(a) == 'c.toml:3: app.name: missing required key (add name = "x" under [app])'
    err = ConfigError([a, b])
    assert err.problems == [a, b]
    assert str(err) == f"{a}\n{b}"


def test_line_finder_handles_tables_arrays_and_dotted_keys() -> None:
    text = (
        "top = 1\n"  # 1
        "[app]\n"  # 2
        '"name" = "x"  # comment\n'  # 3
        "a.b = [\n"  # 4
        "  '[[hosts]]',\n"  # 5
        '  "x = 1",\n'  # 6
        "]\n"  # 7
        "[[hosts]]\n"  # 8
        "name = 'a'\n"  # 9
        "[[hosts]]\n"  # 10
        "port = 1\n"  # 11
        "[[hosts.extra]]\n"  # 12
        "k = 1\n"  # 13
    )
    tomllib.loads(text)  # it is valid TOML
    lines = key_lines(text)
    assert lines[("top",)] == 1
    assert lines[("app",)] == 2
    assert lines[("app", "name")] == 3
    assert lines[("app", "a")] == 4
    assert lines[("app", "a", "b")] == 4
    assert lines[("hosts", 0)] == 8
    assert lines[("hosts", 0, "name")] == 9
    assert lines[("hosts", 1)] == 10
    assert lines[("hosts", 1, "port")] == 11
    assert lines[("hosts", 1, "extra", 0, "k")] == 13
    assert ("x",) not in lines and ("app", "x") not in lines


def test_core_config_does_not_import_textual() -> None:
    code = "import sys; from tui.core import config; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# ---- discovery --------------------------------------------------------------------


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A working dir, a user config dir, and a file for --config / $SHIPDECK_CONFIG."""
    cwd = tmp_path / "cwd"
    user_dir = tmp_path / "user" / "shipdeck"
    cwd.mkdir()
    user_dir.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("SHIPDECK_CONFIG", raising=False)
    monkeypatch.setattr(config_module, "user_config_dir", lambda app: str(user_dir))
    return {
        "cwd": cwd / "shipdeck.toml",
        "user": user_dir / "shipdeck.toml",
        "explicit": write(tmp_path, MINIMAL, "explicit.toml"),
        "env": write(tmp_path, MINIMAL, "env.toml"),
    }


def test_discovery_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    places["cwd"].write_text(MINIMAL)
    places["user"].write_text(MINIMAL)
    monkeypatch.setenv("SHIPDECK_CONFIG", str(places["env"]))
    assert find_config_path(str(places["explicit"])) == places["explicit"]
    assert find_config_path(None) == places["env"]
    monkeypatch.setenv("SHIPDECK_CONFIG", "")  # empty counts as unset
    assert find_config_path(None) == places["cwd"]
    places["cwd"].unlink()
    assert find_config_path(None) == places["user"]


def test_discovery_explicit_and_env_must_exist(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    places["cwd"].write_text(MINIMAL)  # never used as a silent fallback
    with pytest.raises(ConfigError) as err:
        find_config_path("missing.toml")
    assert str(err.value) == (
        "missing.toml:1: file: no such file, given with --config"
        " (check the path given with --config)"
    )
    monkeypatch.setenv("SHIPDECK_CONFIG", "/nowhere/shipdeck.toml")
    with pytest.raises(ConfigError) as err:
        find_config_path(None)
    assert str(err.value) == (
        "/nowhere/shipdeck.toml:1: file: no such file, named by $SHIPDECK_CONFIG"
        " (fix or unset $SHIPDECK_CONFIG)"
    )


def test_discovery_nothing_found_names_the_places(places: dict[str, Path]) -> None:
    with pytest.raises(ConfigError) as err:
        find_config_path(None)
    (problem,) = err.value.problems
    assert problem.key == "file"
    assert str(places["cwd"]) in problem.message
    assert str(places["user"]) in problem.message
    assert "--config" in problem.hint and "$SHIPDECK_CONFIG" in problem.hint


def test_discovery_expands_home(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(places["explicit"].parent))
    assert find_config_path("~/explicit.toml") == places["explicit"]
    assert os.path.isabs(find_config_path("~/explicit.toml"))
