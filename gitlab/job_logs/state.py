"""What `job_logs` keeps in dlt resource state: per-project watermarks of fetched logs, and pending ones."""

import threading
from typing import Any, Dict, List, Optional, Set

from gitlab.job_logs.rows import TJob, job_keys
from gitlab.settings import TRACE_PENDING_MAX_RUNS
from gitlab.transforms import to_utc_iso


def finished_at(job: TJob) -> str:
    """The moment the job finished, as UTC text that sorts in time order; the watermark's unit."""
    moment = job.get("finished_at") or job.get("started_at") or job.get("created_at")
    return to_utc_iso(moment) if moment else ""


class LogState:
    """What `job_logs` keeps in dlt resource state, bounded by the number of projects and failures.

    Per project, a watermark: the latest `finished_at` among fetched logs and the ids fetched at that
    exact instant. A job finishes once, and a log does not change afterwards, so a finished job at
    or before the watermark (and not one of those ids) was fetched by an earlier run: jobs are fed
    again when their pipeline changes, and a job still running then finishes later than the
    watermark. Logs that failed wait in `pending` (a few fields each) and are fetched next run.
    Filtering uses the watermarks as they were when the run started; fetches move the live ones,
    except a held project's: some of its jobs were not listed in this run, so the next run must not
    take them for fetched.
    """

    def __init__(self, state: Dict[str, Any]) -> None:
        self.watermarks: Dict[str, List[Any]] = state.setdefault("finished_through", {})
        self.pending: Dict[str, Dict[str, Any]] = state.setdefault("pending", {})
        self.baseline = {project: (mark[0], set(mark[1])) for project, mark in self.watermarks.items()}
        self.retrying: Set[int] = set()
        self._pending_taken = False
        self._held: Set[str] = set()
        self._lock = threading.Lock()  # `hold` comes from dlt's worker threads, the rest from its extract loop

    def take_pending(self) -> List[TJob]:
        """The jobs whose logs failed in earlier runs, once per run; they stay pending until fetched."""
        if self._pending_taken:
            return []
        self._pending_taken = True
        self.retrying = {entry["id"] for entry in self.pending.values()}
        return list(self.pending.values())

    def fetched_before(self, job: TJob) -> bool:
        """True when an earlier run stored this job's log, or this run is already fetching it again."""
        if job["id"] in self.retrying:
            return True
        if str(job["id"]) in self.pending:
            return False
        mark = self.baseline.get(str(job_keys(job)["project_id"]))
        if mark is None:
            return False
        finished = finished_at(job)
        return finished < mark[0] or (finished == mark[0] and job["id"] in mark[1])

    def record_done(self, job: TJob) -> None:
        """Moves the project's watermark past a log that was stored (or is known to be missing)."""
        self.pending.pop(str(job["id"]), None)
        project = str(job_keys(job)["project_id"])
        finished = finished_at(job)
        with self._lock:
            if project in self._held:
                return
            mark = self.watermarks.get(project)
            if mark is None or finished > mark[0]:
                self.watermarks[project] = [finished, [job["id"]]]
            elif finished == mark[0] and job["id"] not in mark[1]:
                mark[1].append(job["id"])

    def hold(self, project: str) -> None:
        """Puts `project`'s watermark back where the run found it and keeps it there."""
        with self._lock:
            self._held.add(project)
            start = self.baseline.get(project)
            if start is None:
                self.watermarks.pop(project, None)
            else:
                self.watermarks[project] = [start[0], sorted(start[1])]

    def record_failed(self, job: TJob, reason: str) -> Optional[str]:
        """Keeps a failed job to fetch next run; returns a reason when it has failed too many runs."""
        entry = self.pending.get(str(job["id"]))
        runs = (entry or {}).get("runs", 0) + 1
        if runs >= TRACE_PENDING_MAX_RUNS:
            self.pending.pop(str(job["id"]), None)
            return f"{reason}; failed in {runs} runs"
        self.pending[str(job["id"])] = {**pending_job(job), "runs": runs, "reason": reason}
        return None


def pending_job(job: TJob) -> Dict[str, Any]:
    """The few fields of a job its log row needs, as kept in state until the log is fetched."""
    keys = job_keys(job)
    return {
        "id": job["id"],
        "project_id": keys["project_id"],
        "pipeline": {"id": keys["pipeline_id"], "project_id": keys["project_id"]},
        "name": job.get("name"),
        "status": job.get("status"),
        "web_url": job.get("web_url"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "created_at": job.get("created_at"),
    }
