"""THE confirm modal: returns True only on an explicit confirm; typing the name when asked."""

from __future__ import annotations

from textual.app import App

from widgets.confirm_modal import ConfirmModal

SIZE = (120, 40)


class Host(App[None]):
    def __init__(self, modal: ConfirmModal) -> None:
        super().__init__()
        self.modal = modal
        self.answers: list[bool] = []

    def on_mount(self) -> None:
        self.push_screen(self.modal, self.answers.append)


def modal(require: str = "") -> ConfirmModal:
    return ConfirmModal(
        "Stop demo #0?",
        "This will stop demo #0: it stops serving until started again on web1 (production).",
        "pm2 stop 0",
        require_text=require,
        confirm_label="Stop",
    )


async def test_cancel_is_the_default_and_escape_cancels() -> None:
    app = Host(modal())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # Cancel has the focus
        assert app.answers == [False]
    app = Host(modal())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        assert app.answers == [False]


async def test_typed_name_must_match() -> None:
    app = Host(modal(require="demo"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "e", "m", "enter")
        assert app.answers == []  # wrong text: nothing happens
        assert app.modal.query_one("#confirm").disabled
        await pilot.press("o")
        assert not app.modal.query_one("#confirm").disabled
        await pilot.click("#confirm")
        assert app.answers == [True]


def test_confirm_modal_snapshot(snap_compare) -> None:
    app = Host(modal(require="demo"))
    assert snap_compare(app, terminal_size=SIZE)
