"""The dashboard's chart shapes, built with Altair so every page looks alike."""

from typing import Any, Dict, List, Optional

import altair as alt
import pandas as pd

CHART_HEIGHT_PX = 280
BAR_STEP_PX = 22  # the height of one bar (or heatmap row) with its gap: charts grow with their rows
AXIS_LABEL_LIMIT_PX = 320
# room around the drawing, so axis titles and end labels at its edge are not clipped; Streamlit sets the bottom
CHART_PADDING = {"left": 5, "top": 5, "right": 5}
# Legends sit right of the plot, one entry under the other, labels whole: the chart's width includes them
# (a legend below runs out of a narrow chart's box, as Vega does not wrap its entries).
LEGEND = alt.Legend(orient="right", labelLimit=0)


def _min_step(number_format: str) -> Any:
    """Whole-number axes tick at whole numbers only."""
    return 1 if number_format.endswith("d") else alt.Undefined


def trend(frame: pd.DataFrame, y: str, title: str, color: Optional[str] = None, y_format: str = ",.1f") -> alt.Chart:
    """A line per series over `period`, with points, e.g. success rate per project by week."""
    encodings: Dict[str, Any] = {
        "x": alt.X("period:T", title=None),
        "y": alt.Y(f"{y}:Q", title=title, axis=alt.Axis(format=y_format, tickMinStep=_min_step(y_format))),
        "tooltip": [alt.Tooltip("period:T", title="period"), alt.Tooltip(f"{y}:Q", title=title, format=y_format)],
    }
    if color:
        encodings["color"] = alt.Color(f"{color}:N", title=None, legend=LEGEND)
        encodings["tooltip"].insert(0, alt.Tooltip(f"{color}:N"))
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(**encodings)
        .properties(height=CHART_HEIGHT_PX, padding=CHART_PADDING)
    )


def trend_lines(frame: pd.DataFrame, columns: List[str], title: str, y_format: str = ",.1f") -> alt.Chart:
    """Several measures over `period` as one line each, e.g. p50 and p95 duration."""
    long = frame.melt(id_vars=["period"], value_vars=columns, var_name="measure", value_name="value")
    return trend(long, "value", title, color="measure", y_format=y_format)


def bars(
    frame: pd.DataFrame, category: str, value: str, title: str, color: Optional[str] = None, value_format: str = ",.1f"
) -> alt.Chart:
    """Horizontal bars, longest first, e.g. p95 duration per job."""
    encodings: Dict[str, Any] = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=AXIS_LABEL_LIMIT_PX)),
        "x": alt.X(f"{value}:Q", title=title, axis=alt.Axis(format=value_format, tickMinStep=_min_step(value_format))),
        "tooltip": [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", title=title, format=value_format)],
    }
    if color:
        encodings["color"] = alt.Color(f"{color}:N", title=None, legend=LEGEND)
        encodings["tooltip"].append(alt.Tooltip(f"{color}:N"))
    return (
        alt.Chart(frame).mark_bar().encode(**encodings).properties(height=alt.Step(BAR_STEP_PX), padding=CHART_PADDING)
    )


def heatmap(frame: pd.DataFrame, x: str, y: str, value: str, title: str, value_format: str = ".0%") -> alt.Chart:
    """A grid coloured by `value`, e.g. success rate per project and branch."""
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            # every column labelled: slanted labels overlap as boxes but not as text, so none is dropped
            x=alt.X(f"{x}:N", title=None, axis=alt.Axis(labelAngle=-45, labelOverlap=False, labelLimit=200)),
            y=alt.Y(f"{y}:N", title=None, axis=alt.Axis(labelLimit=AXIS_LABEL_LIMIT_PX)),
            color=alt.Color(
                f"{value}:Q",
                title=title,
                scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
                legend=alt.Legend(format=value_format),
            ),
            tooltip=[
                alt.Tooltip(f"{y}:N"),
                alt.Tooltip(f"{x}:N"),
                alt.Tooltip(f"{value}:Q", format=value_format),
                alt.Tooltip("pipelines:Q"),
            ],
        )
        .properties(height=alt.Step(BAR_STEP_PX), padding=CHART_PADDING)
    )
