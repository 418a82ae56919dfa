"""Secrets found in job logs, redacted, with the CLI command that erases the leaky jobs' logs.

See https://docs.gitlab.com/api/jobs/#erase-a-job
"""

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import streamlit as st

from app import charts, data, formatting, queries
from app.data import Catalog
from app.queries import Filters, build
from app.views import fetch_filtered, job_labels, metric_row, page_header, show_table, text_width_px

CLI = Path(__file__).resolve().parents[2] / "gitlab_pipeline.py"
ERASE_SUBCOMMAND = "erase-leaky-jobs"
FINGERPRINT_CHARS_SHOWN = 8
ERASE_HELP = (
    "Rotate or revoke each secret first: erasing removes the job's log and artifacts, it does not make a leaked"
    " secret safe. The token needs the `api` scope and the Maintainer role in the project."
)


def _as_typed(path: Path) -> str:
    """`path` relative to the folder the dashboard runs in when it is inside it (`.venv/bin/python` in the
    repository), else absolute: either way the command works pasted into a shell there."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def erase_command(base_url: Optional[str], destination: str, dataset: str) -> str:
    """`gitlab_pipeline.py erase-leaky-jobs` (a dry run) for the loaded GitLab and the dataset read here.

    Args:
        base_url (Optional[str]): The loaded GitLab's URL; without it the CLI takes `[sources.gitlab] base_url`.
        destination (str): `duckdb`, `postgres` or `alloydb`.
        dataset (str): The dataset the findings were read from.

    Returns:
        str: The command line, with the venv's Python the dashboard runs on; append `--yes` to erase.
    """
    words = [_as_typed(Path(sys.executable)), _as_typed(CLI), ERASE_SUBCOMMAND]
    if base_url:
        words += ["--base-url", base_url]
    if destination != data.DEFAULT_DESTINATION:
        words += ["--destination", destination]
    if dataset != data.DEFAULT_DATASET:
        words += ["--dataset", dataset]
    return shlex.join(words)


def render(filters: Filters, catalog: Catalog) -> None:
    """The secret findings page."""
    if not page_header("Secrets in job logs", catalog, queries.JOB_LOG_TABLES, "job logs"):
        return
    scanned = fetch_filtered(filters, {"logs": queries.JOB_LOGS_SCANNED_SQL})["logs"].iloc[0]["logs"]
    if queries.FINDINGS_TABLE not in catalog.tables:
        metric_row([("Job logs scanned", formatting.count(scanned), None), ("Secret findings", "0", None)])
        st.success(f"No secret found in the job logs: {formatting.count(scanned)} scanned in range, none leaked.")
        return
    erasures = queries.erasures_join(catalog.tables)
    frames = fetch_filtered(
        filters,
        {
            "summary": build(queries.FINDING_SUMMARY_SQL, filters, erasures_join=erasures),
            "findings": queries.FINDINGS_SQL,
            "kinds": queries.FINDINGS_BY_KIND_SQL,
            "to_erase": build(queries.ERASE_JOBS_SQL, filters, erasures_join=erasures),
            "in_dataset": queries.Query(queries.LEAKY_JOBS_IN_DATASET_SQL.replace("{erasures_join}", erasures), ()),
        },
    )
    summary, findings, to_erase = frames["summary"].iloc[0], frames["findings"], frames["to_erase"]
    paths = catalog.project_paths()

    metric_row(
        [
            ("Job logs scanned", formatting.count(scanned), None),
            ("Secret findings", formatting.count(summary["findings"]), None),
            ("Distinct secrets", formatting.count(summary["secrets"]), "by fingerprint (keyed hash)"),
            ("Jobs with secrets", formatting.count(summary["jobs"]), None),
            ("Jobs to erase", formatting.count(summary["jobs_to_erase"]), "jobs with findings not erased"),
        ]
    )
    if findings.empty:
        st.caption("No secrets found in the job logs in range.")
        return

    st.subheader("By kind")
    st.altair_chart(charts.bars(frames["kinds"], "kind", "findings", "findings", value_format=",d"))

    st.subheader("Findings (redacted)")
    findings["job"] = job_labels(findings, paths, "job_name")
    findings["line"] = findings["web_url"] + "#L" + findings["line_number"].astype(str)  # GitLab's line anchor
    findings["secret"] = findings["fingerprint"].str[:FINGERPRINT_CHARS_SHOWN]
    show_table(
        findings[["job", "kind", "line", "preview", "secret"]],
        {
            "line": st.column_config.LinkColumn(
                "line", display_text=r"#L(\d+)$", help="opens the job's log at the line"
            ),
            # sized to the longest preview: a table sizes a column to its typical values, cutting a long one short
            "preview": st.column_config.TextColumn("redacted preview", width=text_width_px(findings["preview"])),
            "secret": st.column_config.TextColumn(
                "secret", help="the start of the secret's keyed fingerprint: the same secret has the same one"
            ),
        },
    )

    st.subheader("Erase the leaky jobs")
    st.warning(ERASE_HELP)
    if to_erase.empty:
        st.caption("Every job with a finding in range is erased already.")
        return
    to_erase["job"] = job_labels(to_erase, paths, "job_name")
    show_table(
        to_erase[["job", "web_url", "findings", "kinds"]],
        {
            "web_url": st.column_config.LinkColumn("log", display_text=r"/-/jobs/(\d+)$"),
        },
    )
    _erase_instructions(catalog, int(frames["in_dataset"].iloc[0]["jobs"]), len(to_erase))


def _erase_instructions(catalog: Catalog, in_dataset: int, in_range: int) -> None:
    """The CLI's dry run and erase for this dataset, and what they act on."""
    pipeline = data.pipeline()
    urls = catalog.gitlab_urls()
    command = erase_command(urls[0] if urls else None, pipeline.destination.destination_name, pipeline.dataset_name)
    lines: List[str] = [
        "# list the jobs it would erase (a dry run)",
        command,
        "# erase them",
        f"{command} --yes",
    ]
    st.code("\n".join(lines), language="bash", wrap_lines=True)
    st.caption(
        f"`{ERASE_SUBCOMMAND}` erases every job with findings of the dataset that is not erased yet: {in_dataset}"
        f" job(s), {in_range} of them in the filters above. It takes the token from `GITLAB_TOKEN` or"
        " `.dlt/secrets.toml`, and records each outcome in `job_erasures`."
    )
    if len(urls) > 1:
        st.warning(
            f"The projects come from {len(urls)} GitLab instances ({', '.join(urls)}): the command erases"
            f" in {urls[0]} only."
        )
