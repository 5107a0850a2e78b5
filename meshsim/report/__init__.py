"""Reports people read: one self-contained HTML file per run (``meshsim run --html OUT``)."""

from __future__ import annotations

from meshsim.report._html import CHART_HEADINGS, render_html_report, write_html_report

__all__ = ["CHART_HEADINGS", "render_html_report", "write_html_report"]
