"""Secrets found in job logs, redacted, with the command that erases each leaky job's log.

See https://docs.gitlab.com/api/jobs/#erase-a-job
"""

from typing import Optional
from urllib.parse import urlsplit

import streamlit as st

from app import charts, formatting, queries
from app.data import Catalog, fetch_all
from app.queries import Filters, build
from app.views import tables_missing

CODE_LINES_SHOWN = 20
CODE_HEIGHT_PX = 420
ERASE_HELP = (
    "Rotate or revoke each secret first: erasing removes the job's log and artifacts, it does not make a leaked"
    " secret safe. The token needs the `api` scope and the Maintainer role in the project."
)


def api_base(web_url: Optional[str], project_path: Optional[str]) -> str:
    """GitLab's root URL from a job's `web_url` (`https://host[/prefix]/<project>/-/jobs/<id>`)."""
    if not web_url:
        return "https://gitlab.com"
    root = web_url.split("/-/jobs/")[0]
    if project_path and root.endswith("/" + project_path):
        return root[: -len(project_path) - 1]
    parts = urlsplit(web_url)
    return f"{parts.scheme}://{parts.netloc}"


def erase_command(web_url: Optional[str], project_path: Optional[str], project_id: int, job_id: int) -> str:
    """The curl command that erases one job (log and artifacts); the token is read from `$GITLAB_TOKEN`.

    It prints one line per erased job; `--fail --show-error` prints GitLab's status when it refuses.
    """
    url = f"{api_base(web_url, project_path)}/api/v4/projects/{int(project_id)}/jobs/{int(job_id)}/erase"
    return (
        f'curl --fail --silent --show-error --output /dev/null --request POST --header "PRIVATE-TOKEN: $GITLAB_TOKEN"'
        f' "{url}" && echo "erased job {int(job_id)}"'
    )


def render(filters: Filters, catalog: Catalog) -> None:
    """The secret findings page."""
    st.header("Secrets in job logs")
    if tables_missing(catalog, queries.JOB_LOG_TABLES, "job logs"):
        return
    erasures = queries.erasures_join(catalog.tables)
    frames = fetch_all({
        "summary": build(queries.FINDING_SUMMARY_SQL, filters, erasures_join=erasures),
        "findings": build(queries.FINDINGS_SQL, filters, erasures_join=erasures),
        "kinds": build(queries.FINDINGS_BY_KIND_SQL, filters),
        "to_erase": build(queries.ERASE_JOBS_SQL, filters, erasures_join=erasures),
    })
    summary, findings, to_erase = frames["summary"].iloc[0], frames["findings"], frames["to_erase"]
    paths = catalog.project_paths()
    findings["project"] = findings["project_id"].map(paths)

    cells = st.columns(4)
    cells[0].metric("Secret findings", formatting.count(summary["findings"]))
    cells[1].metric("Distinct secrets", formatting.count(summary["secrets"]), help="by fingerprint (keyed hash)")
    cells[2].metric("Jobs with secrets", formatting.count(summary["jobs"]))
    cells[3].metric("Jobs to erase", formatting.count(summary["jobs_to_erase"]), help="jobs with findings not erased")
    if findings.empty:
        st.caption("No secrets found in the job logs in range.")
        return

    left, right = st.columns([1, 2])
    with left:
        st.subheader("By kind")
        st.altair_chart(charts.bars(frames["kinds"], "kind", "findings", "findings", value_format=",d"))
    with right:
        st.subheader("Findings (redacted)")
        st.dataframe(
            findings[["project", "job_name", "job_id", "kind", "line_number", "preview", "fingerprint", "erased",
                      "web_url"]],
            hide_index=True,
            column_config={"web_url": st.column_config.LinkColumn("job"), "preview": "redacted preview",
                           "job_name": "job", "line_number": "line"},
        )

    st.subheader("Erase the leaky jobs")
    st.warning(ERASE_HELP)
    if to_erase.empty:
        st.caption("Every job with a finding is erased already.")
        return
    commands = [
        erase_command(row.web_url, paths.get(row.project_id), row.project_id, row.job_id)
        for row in to_erase.itertuples()
    ]
    script = "\n".join(commands)
    st.code(script, language="bash", wrap_lines=True,
            height=CODE_HEIGHT_PX if len(commands) > CODE_LINES_SHOWN else "content")
    st.download_button("Download as a shell script", data=f"#!/bin/sh\n{script}\n",
                       file_name="erase-leaky-jobs.sh", mime="text/x-shellscript")
    st.caption(f"{len(commands)} job(s). GitLab answers 201 for each job it erases.")
