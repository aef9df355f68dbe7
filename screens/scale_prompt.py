"""Moved to widgets/scale_prompt.py (a modal shared by the monitor and emergency screens); this
name stays for code that still imports it from here (tests/integration/test_monitor.py)."""

from widgets.scale_prompt import ScalePrompt

__all__ = ["ScalePrompt"]
