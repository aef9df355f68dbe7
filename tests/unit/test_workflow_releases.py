"""Release ids, the remote listing parser, retention and rollback targets (pure functions)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tui.core.releases import (
    Release,
    ReleasesLayout,
    check_release_id,
    is_commit,
    new_release_id,
    parse_listing,
    plan_retention,
)
from tui.core.workflow_steps import substitute


def test_new_release_id_sorts_with_the_rigs_ids() -> None:
    ours = new_release_id(7, datetime(2026, 11, 26, 16, 35, 0))
    assert ours == "20261126-163500-7"
    rig = Release("20261126163412", "good")
    assert Release(ours, "unknown").sort_key > rig.sort_key
    assert Release("20261126-163000-1", "good").sort_key < rig.sort_key


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", "x y", "a\nb"])
def test_check_release_id_refuses_paths(bad: str) -> None:
    with pytest.raises(ValueError):
        check_release_id(bad)


def test_parse_listing_reads_markers_and_ignores_the_rest() -> None:
    text = "\n".join(
        [
            "1 d 20260101-000000-1",
            "2 f 20260101-000000-1/.shipdeck-good",
            "2 d 20260101-000000-1/node_modules",
            "1 d 20260102-000000-2",
            "2 f 20260102-000000-2/.shipdeck-good",
            "2 f 20260102-000000-2/.shipdeck-failed",
            "1 d 20260103-000000-3",
            "1 f stray-file",
            "garbage",
        ]
    )
    assert parse_listing(text) == [
        Release("20260101-000000-1", "good"),
        Release("20260102-000000-2", "failed"),  # failed wins over good (rolled back)
        Release("20260103-000000-3", "unknown"),
    ]


def _r(n: int, state: str) -> Release:
    return Release(f"2026010{n}-000000-{n}", state)


def test_retention_never_removes_live_or_last_good_and_failed_go_first() -> None:
    rels = [_r(1, "good"), _r(2, "failed"), _r(3, "failed"), _r(4, "failed"), _r(5, "good")]
    doomed = plan_retention(rels, keep=2, live=_r(5, "good").id)
    assert set(doomed) == {_r(2, "x").id, _r(3, "x").id, _r(4, "x").id}


def test_retention_keeps_a_live_release_that_is_not_good_and_the_rollback_target() -> None:
    rels = [_r(1, "good"), _r(2, "good"), _r(3, "good"), _r(4, "unknown")]
    doomed = plan_retention(rels, keep=2, live=_r(4, "x").id)
    # Live (4), and the two newest good ones (3: rollback target, 2) even past keep=2.
    assert doomed == [_r(1, "x").id]


def test_retention_keeps_protected_and_up_to_keep() -> None:
    rels = [_r(n, "good") for n in range(1, 8)]
    doomed = plan_retention(rels, keep=5, live=_r(7, "x").id, protect=(_r(1, "x").id,))
    assert sorted(doomed) == [_r(2, "x").id, _r(3, "x").id]


def test_rollback_target_is_the_newest_good_other_release() -> None:
    layout = ReleasesLayout("/srv/app", 5)
    rels = [_r(1, "good"), _r(2, "good"), _r(3, "failed"), _r(4, "unknown")]
    assert layout.rollback_target(rels, live=_r(4, "x").id) == _r(2, "good")
    assert layout.rollback_target(rels, live=_r(2, "x").id) == _r(1, "good")
    assert layout.rollback_target(rels, live=_r(4, "x").id, exclude=(_r(2, "x").id,)) == _r(
        1, "good"
    )
    assert layout.rollback_target([_r(1, "good")], live=_r(1, "x").id) is None


def test_paths_and_commit_refs() -> None:
    layout = ReleasesLayout("/srv/app/", 5)
    assert layout.current == "/srv/app/current"
    assert layout.path("r1") == "/srv/app/releases/r1"
    assert is_commit("e59d2e2") and is_commit("a" * 40)
    assert not is_commit("main") and not is_commit("v1.0.0") and not is_commit("abc")


def test_substitute_is_per_argument_and_leaves_other_braces() -> None:
    argv = ("pm2", "reload", "{ecosystem}", "--name={app}", "{unknown}", "a b {ref};rm -rf /")
    out = substitute(argv, {"ecosystem": "/srv/x y/eco.js", "app": "api", "ref": "v1"})
    assert out == ("pm2", "reload", "/srv/x y/eco.js", "--name=api", "{unknown}", "a b v1;rm -rf /")
