"""DuckDB as dlt loads it, with merges that keep to a memory limit when one is set (benchmarks/RESULTS.md, target 2).

dlt de-duplicates a merge's staged rows by numbering every row, all its columns with it, in one window, which
DuckDB cannot spill: the `job_logs` merge of 20,000 logs took 1.1 GB, and ran out of memory under a 256 or 512 MB
limit. Numbering only the keys and DuckDB's `rowid` keeps that window small, so the insert streams and spills.
No limit is set by default: DuckDB pins long strings when it commits and checkpoints a table, so under 256 MB a
table of 60 KB to 1 MB logs failed its loads once it held a few hundred MB of them, where DuckDB's own default
(80 % of RAM) loaded them.
"""

from typing import Any, List, Optional, Sequence, Tuple, Type

from dlt.common.destination.reference import DestinationReference
from dlt.common.schema.typing import TSortOrder
from dlt.destinations import duckdb
from dlt.destinations.impl.duckdb.duck import DuckDbClient
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlMergeFollowupJob


class KeyWindowMergeJob(SqlMergeFollowupJob):
    """dlt's merge, keeping one staged row per key chosen by the keys and `rowid` alone.

    It first drops the second copy of a row staged twice: a load resumed after a kill copies again a file
    whose copy had committed, and dlt's merge keeps both copies of a table's rows when it has nested tables.
    """

    @classmethod
    def gen_merge_sql(cls, table_chain: Sequence[Any], sql_client: SqlClientBase[Any]) -> List[str]:
        return [*cls._drop_repeated_copies(table_chain, sql_client), *super().gen_merge_sql(table_chain, sql_client)]

    @classmethod
    def _drop_repeated_copies(cls, table_chain: Sequence[Any], sql_client: SqlClientBase[Any]) -> List[str]:
        if len(table_chain) == 1:
            return []  # a table alone is de-duplicated by its keys, which drops the copies too
        statements = []
        for table in table_chain:
            row_key = sql_client.escape_column_name(
                cls.get_row_key_col(
                    table_chain,
                    table,
                    sql_client.fully_qualified_dataset_name(),
                    sql_client.fully_qualified_dataset_name(staging=True),
                )
            )
            _, staging_table = sql_client.get_qualified_table_names(table["name"])
            first_copies = cls._first_row_per_key(staging_table, [row_key], cls.default_order_by())
            statements.append(f"DELETE FROM {staging_table} WHERE rowid NOT IN ({first_copies})")
        return statements

    @classmethod
    def gen_select_from_dedup_sql(
        cls,
        table_name: str,
        primary_keys: Sequence[str],
        columns: Sequence[str],
        dedup_sort: Optional[Tuple[str, TSortOrder]] = None,
        condition: Optional[str] = None,
        condition_columns: Optional[Sequence[str]] = None,
        skip_dedup: bool = False,
    ) -> str:
        order_by = cls.default_order_by() if dedup_sort is None else f"{dedup_sort[0]} {dedup_sort[1].upper()}"
        # staged data declared de-duplicated (`x-stage-data-deduplicated`) is taken whole, as dlt does
        first_rows = (
            "1 = 1" if skip_dedup else f"rowid IN ({cls._first_row_per_key(table_name, primary_keys, order_by)})"
        )
        return f"SELECT {', '.join(columns)} FROM {table_name} WHERE {first_rows} AND ({condition or '1 = 1'})"

    @staticmethod
    def _first_row_per_key(table_name: str, keys: Sequence[str], order_by: str) -> str:
        """The rowid of one row per key: a row staged twice has two rowids."""
        return (
            f"SELECT rowid FROM {table_name}"
            f" QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(keys)} ORDER BY {order_by}) = 1"
        )


class BoundedDuckDbClient(DuckDbClient):
    """dlt's DuckDB client, merging with KeyWindowMergeJob."""

    def _create_merge_followup_jobs(self, table_chain: Sequence[Any]) -> List[Any]:
        return [KeyWindowMergeJob.from_table_chain(table_chain, self.sql_client)]


class bounded_duckdb(duckdb):
    """dlt's `duckdb` destination, by its name and type (so `dlt pipeline show` opens it), loading with
    BoundedDuckDbClient."""

    @property
    def destination_type(self) -> str:
        return DestinationReference.normalize_type(f"{duckdb.__module__}.{duckdb.__qualname__}")

    @property
    def client_class(self) -> Type[DuckDbClient]:
        return BoundedDuckDbClient
