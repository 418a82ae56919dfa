"""The dashboard's pages: each module has one `render(filters, catalog)`, built from the shared pieces below."""

from typing import Any, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple, Union

import pandas as pd
import streamlit as st

from app.data import Catalog, fetch_all
from app.queries import Filters, Query, build

TABLE_ROWS_SHOWN = 15  # a longer table scrolls inside a box of this many rows
ROW_HEIGHT_PX = 35  # st.dataframe's row and header height
TABLE_BORDER_PX = 2  # its top and bottom border
CHAR_WIDTH_PX = 7.5  # an average character of the table's 14 px font, a little generous
CELL_PADDING_PX = 16

Metric = Tuple[str, str, Optional[str]]  # label, value as shown, help


def page_header(title: str, catalog: Catalog, needed: FrozenSet[str], what: str) -> bool:
    """The page's title; False, having said which tables are not loaded yet, when any of `needed` is absent."""
    st.header(title)
    missing = sorted(needed - catalog.tables)
    if missing:
        st.info(f"No {what} loaded yet (missing tables: {', '.join(missing)}).")
    return not missing


def fetch_filtered(filters: Filters, statements: Mapping[str, Union[str, Query]]) -> Dict[str, pd.DataFrame]:
    """A page's rows on one connection: `*_SQL` templates filled with the sidebar's `filters` (`queries.build`),
    statements built otherwise as they are."""
    return fetch_all({name: build(sql, filters) if isinstance(sql, str) else sql for name, sql in statements.items()})


def section(title: str, rows: pd.DataFrame, when_empty: str) -> bool:
    """A subheader; False, having said `when_empty` under it, when `rows` is empty."""
    st.subheader(title)
    if rows.empty:
        st.caption(when_empty)
    return not rows.empty


def metric_row(metrics: Sequence[Metric]) -> None:
    """Figures side by side, each as wide as its label and value; they wrap to a new line rather than be cut."""
    with st.container(horizontal=True, gap="small"):
        for label, value, help_text in metrics:
            st.metric(label, value, help=help_text, width="content", border=True)


def show_table(frame: pd.DataFrame, column_config: Optional[Mapping[str, Any]] = None) -> None:
    """A table as wide as the page, every row shown up to TABLE_ROWS_SHOWN; longer ones scroll in that box."""
    height: Any = "content"
    if len(frame) > TABLE_ROWS_SHOWN:
        height = (TABLE_ROWS_SHOWN + 1) * ROW_HEIGHT_PX + TABLE_BORDER_PX
    st.dataframe(frame, hide_index=True, column_config=column_config, height=height)
    if len(frame) > TABLE_ROWS_SHOWN:
        st.caption(f"{TABLE_ROWS_SHOWN} of {len(frame):,} rows shown: scroll the table for the others.")


def text_width_px(values: pd.Series) -> int:
    """A column width that shows the longest of `values` whole."""
    longest = int(values.astype(str).str.len().max()) if len(values) else 0
    return round(longest * CHAR_WIDTH_PX + CELL_PADDING_PX)


def job_labels(frame: pd.DataFrame, paths: Dict[int, str], name_column: str = "name") -> pd.Series:
    """`group/project · job name` for each row's `project_id` and job name."""
    return frame["project_id"].map(paths) + " · " + frame[name_column]
