"""The dashboard's chart shapes, built with Altair so every page looks alike."""

from typing import Any, List, Optional

import altair as alt
import pandas as pd

CHART_HEIGHT_PX = 280
BAR_STEP_PX = 22  # the height of one bar (or heatmap row) with its gap: charts grow with their rows


def _min_step(number_format: str) -> Any:
    """Whole-number axes tick at whole numbers only."""
    return 1 if number_format.endswith("d") else alt.Undefined


def trend(frame: pd.DataFrame, y: str, title: str, color: Optional[str] = None, y_format: str = ",.1f") -> alt.Chart:
    """A line per series over `period`, with points, e.g. success rate per project by week."""
    encodings = {
        "x": alt.X("period:T", title=None),
        "y": alt.Y(f"{y}:Q", title=title, axis=alt.Axis(format=y_format, tickMinStep=_min_step(y_format))),
        "tooltip": [alt.Tooltip("period:T", title="period"), alt.Tooltip(f"{y}:Q", title=title, format=y_format)],
    }
    if color:
        encodings["color"] = alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom", columns=2))
        encodings["tooltip"].insert(0, alt.Tooltip(f"{color}:N"))
    return alt.Chart(frame).mark_line(point=True).encode(**encodings).properties(height=CHART_HEIGHT_PX)


def trend_lines(frame: pd.DataFrame, columns: List[str], title: str, y_format: str = ",.1f") -> alt.Chart:
    """Several measures over `period` as one line each, e.g. p50 and p95 duration."""
    long = frame.melt(id_vars=["period"], value_vars=columns, var_name="measure", value_name="value")
    return trend(long, "value", title, color="measure", y_format=y_format)


def bars(frame: pd.DataFrame, category: str, value: str, title: str, color: Optional[str] = None,
         value_format: str = ",.1f") -> alt.Chart:
    """Horizontal bars, longest first, e.g. p95 duration per job."""
    encodings = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
        "x": alt.X(f"{value}:Q", title=title, axis=alt.Axis(format=value_format, tickMinStep=_min_step(value_format))),
        "tooltip": [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", title=title, format=value_format)],
    }
    if color:
        encodings["color"] = alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom", columns=2))
        encodings["tooltip"].append(alt.Tooltip(f"{color}:N"))
    return alt.Chart(frame).mark_bar().encode(**encodings).properties(height=alt.Step(BAR_STEP_PX))


def heatmap(frame: pd.DataFrame, x: str, y: str, value: str, title: str, value_format: str = ".0%") -> alt.Chart:
    """A grid coloured by `value`, e.g. success rate per project and branch."""
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X(f"{x}:N", title=None, axis=alt.Axis(labelAngle=-30, labelLimit=200)),
            y=alt.Y(f"{y}:N", title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(f"{value}:Q", title=title, scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
                            legend=alt.Legend(format=value_format)),
            tooltip=[alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{value}:Q", format=value_format),
                     alt.Tooltip("pipelines:Q")],
        )
        .properties(height=alt.Step(BAR_STEP_PX))
    )
