"""Terraform / OpenTofu plan parsing on output in the documented formats, and the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.iac_plan import judge_plan, parse_plan

FIXTURES = Path(__file__).parent / "fixtures" / "iac"


def plan_of(name: str):
    plan = parse_plan((FIXTURES / name).read_text())
    assert plan is not None
    return plan


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("terraform_destroy.txt", "text"), ("terraform_plan.jsonl", "json-lines"),
     ("terraform_show.json", "json")],
)  # fmt: skip
def test_the_three_formats_agree_on_a_destroying_plan(name: str, fmt: str) -> None:
    plan = plan_of(name)
    assert plan.format == fmt
    assert (plan.add, plan.destroy) == (2, 2)
    assert plan.destroyed == ("aws_instance.web",)
    assert plan.replaced == ("aws_s3_bucket.assets",)
    ok, summary = judge_plan(plan)
    assert not ok
    assert summary.endswith("2 to destroy: aws_instance.web, aws_s3_bucket.assets")


def test_show_json_counts_updates_and_ignores_no_ops() -> None:
    plan = plan_of("terraform_show.json")
    assert (plan.add, plan.change, plan.destroy) == (2, 1, 2)


def test_destroy_passes_when_allowed() -> None:
    ok, summary = judge_plan(plan_of("terraform_destroy.txt"), allow_destroy=True)
    assert ok
    assert "destroy allowed: aws_instance.web" in summary


def test_coloured_tofu_output_without_destroy_passes() -> None:
    plan = plan_of("tofu_color_update.txt")
    assert (plan.add, plan.change, plan.destroy) == (1, 1, 0)
    assert judge_plan(plan) == (True, "1 to add, 1 to change, 0 to destroy")


def test_no_changes_and_imports() -> None:
    assert judge_plan(plan_of("terraform_no_changes.txt")) == (True, "no changes")
    imported = plan_of("terraform_import.txt")
    assert (imported.add, imported.change, imported.destroy) == (0, 0, 0)


def test_output_without_a_plan_is_none() -> None:
    assert parse_plan("Error: No configuration files\n") is None
    assert parse_plan('{"type": "version"}\n') is None
