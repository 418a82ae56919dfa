"""The README's table list says what `gitlab.tables` declares: names, keys and how each table is kept."""

import re

from gitlab.tables import TABLES
from tests.utils import REPO

ROW = re.compile(r"^\| `(\w+)`[^|]*\| ([^|]+) \| (merge|replace) \|", re.MULTILINE)


def test_the_readme_table_matches_the_declared_tables():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = {
        name: (tuple(re.findall(r"`(\w+)`", key)), kept) for name, key, kept in ROW.findall(readme)
    }
    declared = {table.name: (table.primary_key, table.write_disposition) for table in TABLES}
    assert listed == declared
