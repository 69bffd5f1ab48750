"""Text dashboards and SVG/PNG charts (matplotlib is imported only when a chart is drawn)."""

from tools.render.ascii import Bar, Kpi, render_dashboard_text

__all__ = ["Bar", "Kpi", "render_dashboard_text"]
