"""The dashboard's pages: each module has one `render(filters, catalog)`."""

from typing import FrozenSet

import streamlit as st

from app.data import Catalog


def tables_missing(catalog: Catalog, needed: FrozenSet[str], what: str) -> bool:
    """Says which tables are not loaded yet, and returns True, when any of `needed` is absent."""
    missing = sorted(needed - catalog.tables)
    if missing:
        st.info(f"No {what} loaded yet (missing tables: {', '.join(missing)}).")
    return bool(missing)
