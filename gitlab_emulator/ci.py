"""Pipeline life cycles: creating a pipeline's jobs, running them on a timeline, retries, status roll-up."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from gitlab_emulator.clock import truncate_ms
from gitlab_emulator.leaks import SECRET_KINDS
from gitlab_emulator.model import ACTIVE_JOB_STATUSES, Deployment, Job, JobSpec, Pipeline, Project, World

LEAK_RATE = 0.075
"""Share of finished (success/failed) jobs whose trace leaks a secret."""
SECOND_LEAK_RATE = 0.25
"""Share of leaking jobs that leak a second, different secret."""
SYSTEM_FAILURE_RATE = 0.2
"""Share of failed jobs that failed in the runner (short trace that ends in prepare_executor)."""
BIG_TRACE_BYTES = 2_600_000
"""Size of the few very large traces that exercise size caps."""


def seconds(value: float) -> timedelta:
    """A timedelta of `value` seconds, rounded to milliseconds."""
    return timedelta(milliseconds=round(value * 1000))


def trace_size(rng: random.Random) -> int:
    """Draws a trace size: log-uniform between 400 bytes and 50 KB."""
    return int(math.exp(rng.uniform(math.log(400), math.log(50_000))))


def job_seconds(job: Job, rng: random.Random) -> float:
    """Draws how long a job runs, growing with its trace size."""
    return min(900.0, 25.0 + job.trace_bytes / 120.0) * rng.uniform(0.7, 1.3)


def stages_of(specs: tuple[JobSpec, ...] | list[JobSpec]) -> list[str]:
    """Returns the distinct stages in configuration order."""
    seen: list[str] = []
    for spec in specs:
        if spec.stage not in seen:
            seen.append(spec.stage)
    return seen


class PipelineFactory:
    """Creates pipelines and runs their jobs on a timeline, deterministically from `rng`.

    Args:
        world (World): The world to add rows to.
        rng (random.Random): The only source of randomness.
        plant (bool): Whether finished jobs may leak secrets into their traces.
    """

    def __init__(self, world: World, rng: random.Random, plant: bool) -> None:
        self.world = world
        self.rng = rng
        self.plant = plant

    def create(
        self, project: Project, *, created_at: datetime, ref: str, tag: bool, sha: str, before_sha: str,
        source: str, user_id: int, outcome: str, retry: bool = False, fail_last_stage: bool = False,
    ) -> Pipeline:
        """Creates a pipeline whose jobs run from `created_at` and end as `outcome` says.

        Args:
            project (Project): The project.
            created_at (datetime): When the pipeline was created.
            ref (str): Branch or tag name.
            tag (bool): Whether `ref` is a tag.
            sha (str): The commit it runs for.
            before_sha (str): The previous head of the ref.
            source (str): push, web, schedule, merge_request_event...
            user_id (int): Who triggered it.
            outcome (str): success, failed, canceled, running or pending. Every timeline is cut at
                world.now, so a pipeline that would end later is still running.
            retry (bool): Whether one job fails first and is retried successfully.
            fail_last_stage (bool): For `failed`, fail a job of the last stage (so nothing is skipped).
        Returns:
            Pipeline: The pipeline, with status and timestamps rolled up from its jobs.
        """
        world = self.world
        pipeline = world.add_pipeline(Pipeline(
            id=world.ids.next("pipelines"), iid=len(world.project_pipelines[project.id]) + 1, project_id=project.id,
            sha=sha, before_sha=before_sha, ref=ref, tag=tag, status="created", source=source,
            created_at=created_at, updated_at=created_at, user_id=user_id,
        ))
        deployable_ref = ref == project.default_branch or tag
        specs = [s for s in world.ci_plans[project.id] if s.deploy_env is None or deployable_ref]
        jobs = [world.add_job(self._new_job(pipeline, spec, created_at)) for spec in specs]
        if outcome == "pending":
            for job in self._stage_jobs(jobs, stages_of(specs)[0]):
                job.status = "pending"
        else:
            self._run(pipeline, jobs, specs, outcome, retry, fail_last_stage)
        refresh_pipeline(world, pipeline)
        return pipeline

    def _new_job(self, pipeline: Pipeline, spec: JobSpec, created_at: datetime) -> Job:
        """Builds a job row in status `created`."""
        return Job(
            id=self.world.ids.next("jobs"), project_id=pipeline.project_id, pipeline_id=pipeline.id, name=spec.name,
            stage=spec.stage, status="created", created_at=created_at, user_id=pipeline.user_id,
            allow_failure=spec.allow_failure, artifacts=spec.artifacts, tag_list=list(spec.tags),
            trace_bytes=trace_size(self.rng), touched_at=created_at,
        )

    @staticmethod
    def _stage_jobs(jobs: list[Job], stage: str) -> list[Job]:
        """Returns the jobs of one stage."""
        return [j for j in jobs if j.stage == stage]

    def _run(self, pipeline: Pipeline, jobs: list[Job], specs: list[JobSpec], outcome: str, retry: bool,
             fail_last_stage: bool) -> None:
        """Plays the pipeline's stages on a timeline, honouring failures, retries, a cancel time and world.now."""
        rng, world = self.rng, self.world
        stages = stages_of(specs)
        strict = [j for j in jobs if not j.allow_failure]
        failing: Job | None = None
        if outcome == "failed" and strict:
            pool = [j for j in strict if j.stage == stages[-1]] if fail_last_stage else [
                j for j in strict if j.stage != stages[0]] or strict
            failing = rng.choice(pool or strict)
        retried: Job | None = None
        if retry:
            pool = [j for j in strict if j is not failing and j.stage not in ("deploy",)]
            retried = rng.choice(pool) if pool else None
        cancel_at = None
        if outcome == "canceled":
            cancel_at = pipeline.created_at + seconds(rng.uniform(60, 400))
        stop = world.now  # nothing happens after the emulator's clock, whatever the intended outcome
        clock = pipeline.created_at + seconds(rng.uniform(0.5, 15))
        blocked: str | None = None
        for stage in stages:
            stage_jobs = self._stage_jobs(jobs, stage)
            if blocked is not None:
                for job in stage_jobs:
                    self._block(job, blocked, cancel_at)
                continue
            ends: list[datetime] = []
            for job in stage_jobs:
                fails = job is failing or job is retried or (job.allow_failure and rng.random() < 0.3)
                end = self._play(job, clock, "failed" if fails else "success", stop, cancel_at)
                if end is not None:
                    ends.append(end)
                if job is retried and job.status == "failed":
                    again = world.add_job(self._new_job(pipeline, specs[[s.name for s in specs].index(job.name)],
                                                        job.finished_at + seconds(rng.uniform(30, 600))))
                    job.retried = True
                    end = self._play(again, again.created_at, "success", stop, cancel_at)
                    if end is not None:
                        ends.append(end)
            latest = [j for j in world.pipeline_jobs[pipeline.id] if j.stage == stage and not j.retried]
            if any(j.status in ACTIVE_JOB_STATUSES for j in latest):
                blocked = "created"
            elif any(j.status == "canceled" for j in latest):
                blocked = "canceled"
            elif any(j.status == "failed" and not j.allow_failure for j in latest):
                blocked = "skipped"
            clock = (max(ends) if ends else clock) + seconds(rng.uniform(0.5, 5))

    def _block(self, job: Job, reason: str, cancel_at: datetime | None) -> None:
        """Leaves a later-stage job created, cancels it, or skips it."""
        if reason == "canceled":
            job.status = "canceled"
            job.finished_at = cancel_at
            job.touched_at = cancel_at
        elif reason == "skipped":
            job.status = "skipped"
        else:
            job.status = "created"

    def _play(self, job: Job, ready_at: datetime, result: str, stop: datetime | None,
              cancel_at: datetime | None) -> datetime | None:
        """Runs one job from `ready_at`; returns its finish time, or None when it did not finish."""
        rng = self.rng
        queued = rng.uniform(0.5, 30)
        start = ready_at + seconds(queued)
        end = start + seconds(job_seconds(job, rng))
        if stop is not None and start > stop:
            job.status = "pending"
            return None
        if cancel_at is not None and start > cancel_at:
            job.status, job.finished_at, job.touched_at = "canceled", cancel_at, cancel_at
            return None
        self._start(job, start, queued)
        if stop is not None and end > stop:
            return None
        if cancel_at is not None and end > cancel_at:
            job.status, job.finished_at, job.touched_at = "canceled", cancel_at, cancel_at
            self._sync_deployment(job)
            return cancel_at
        self.finish(job, end, result)
        return end

    def _start(self, job: Job, start: datetime, queued: float) -> None:
        """Marks a job running on a runner."""
        job.status = "running"
        job.started_at = truncate_ms(start)
        job.queued_duration = round(queued, 3)
        job.runner_id = self.rng.choice(sorted(self.world.runners))
        job.touched_at = job.started_at
        self._sync_deployment(job)

    def finish(self, job: Job, end: datetime, result: str) -> None:
        """Completes a running job as success or failed, decides its leaks and syncs its deployment."""
        rng = self.rng
        job.status = result
        job.finished_at = truncate_ms(end)
        job.touched_at = job.finished_at
        job.failure_reason = "script_failure" if result == "failed" else None
        if result == "failed" and rng.random() < SYSTEM_FAILURE_RATE:
            job.failure_reason, job.trace_bytes = "runner_system_failure", 0
        if job.stage == "test" and result == "success":
            job.coverage = round(rng.uniform(60, 98), 2)
        if self.plant and job.failure_reason != "runner_system_failure" and rng.random() < LEAK_RATE:
            kinds = rng.sample(SECRET_KINDS, 2 if rng.random() < SECOND_LEAK_RATE else 1)
            job.leaks = tuple((kind, f"{job.id}:{n}") for n, kind in enumerate(kinds))
        self._sync_deployment(job)

    def _sync_deployment(self, job: Job) -> None:
        """Creates or updates the deployment of a deploy job once it has started."""
        world = self.world
        spec = next((s for s in world.ci_plans[job.project_id] if s.name == job.name), None)
        if spec is None or spec.deploy_env is None or job.started_at is None:
            return
        status = {"running": "running", "success": "success", "failed": "failed", "canceled": "canceled"}.get(
            job.status, "created")
        moment = job.finished_at or job.started_at
        existing = world.deployment_by_job.get(job.id)
        if existing is not None:
            existing.status, existing.updated_at = status, moment
            return
        environment = next(e for e in world.project_environments[job.project_id] if e.name == spec.deploy_env)
        pipeline = world.pipelines[job.pipeline_id]
        world.add_deployment(Deployment(
            id=world.ids.next("deployments"), iid=len(world.project_deployments[job.project_id]) + 1,
            project_id=job.project_id, environment_id=environment.id, job_id=job.id, ref=pipeline.ref,
            sha=pipeline.sha, status=status, user_id=job.user_id, created_at=job.started_at, updated_at=moment,
        ))

    def resume(self, pipeline: Pipeline, t0: datetime, t1: datetime) -> None:
        """Runs every unfinished job of a pipeline to success inside (t0, t1), stage by stage."""
        rng, world = self.rng, self.world
        jobs = world.pipeline_jobs[pipeline.id]
        stages = stages_of([j for j in jobs])
        unit = (t1 - t0).total_seconds() / (3 * (len(stages) + 2))
        clock = t0 + seconds(unit * rng.uniform(0.1, 0.5))
        for stage in stages:
            ends = []
            for job in (j for j in jobs if j.stage == stage and j.status in ACTIVE_JOB_STATUSES | {"skipped"}):
                if job.status != "running":
                    queued = rng.uniform(0.5, min(30.0, unit / 4))
                    self._start(job, clock + seconds(queued), queued)
                assert job.started_at is not None
                end = max(job.started_at, clock) + seconds(unit * rng.uniform(0.2, 0.9))
                self.finish(job, end, "success")
                ends.append(end)
            clock = (max(ends) if ends else clock) + seconds(unit * rng.uniform(0.05, 0.2))
        refresh_pipeline(world, pipeline)

    def retry(self, job: Job, t0: datetime, t1: datetime) -> Job:
        """Retries a failed job inside (t0, t1): a new successful attempt; skipped later jobs then run too."""
        world, rng = self.world, self.rng
        pipeline = world.pipelines[job.pipeline_id]
        spec = next(s for s in world.ci_plans[job.project_id] if s.name == job.name)
        span = (t1 - t0).total_seconds()
        again = world.add_job(self._new_job(pipeline, spec, t0 + seconds(span * rng.uniform(0.05, 0.3))))
        job.retried = True
        job.touched_at = again.created_at
        queued = rng.uniform(0.5, 20)
        self._start(again, again.created_at + seconds(queued), queued)
        assert again.started_at is not None
        self.finish(again, again.started_at + seconds(span * rng.uniform(0.01, 0.05)), "success")
        assert again.finished_at is not None
        self.resume(pipeline, again.finished_at, t1)
        return again


def refresh_pipeline(world: World, pipeline: Pipeline) -> None:
    """Rolls a pipeline's status and timestamps up from its latest (non-retried) jobs, as GitLab does."""
    jobs = world.pipeline_jobs[pipeline.id]
    latest = [j for j in jobs if not j.retried]
    statuses = {j.status for j in latest}
    started = [j.started_at for j in jobs if j.started_at is not None]
    if "running" in statuses or (statuses & {"pending", "created"} and started):
        status = "running"
    elif "pending" in statuses:
        status = "pending"
    elif "created" in statuses:
        status = "created"
    elif any(j.status == "failed" and not j.allow_failure for j in latest):
        status = "failed"
    elif "canceled" in statuses:
        status = "canceled"
    elif statuses == {"skipped"}:
        status = "skipped"
    else:
        status = "success"
    pipeline.status = status
    pipeline.started_at = min(started) if started else None
    finished = [j.finished_at for j in jobs if j.finished_at is not None]
    done = status in ("success", "failed", "canceled", "skipped")
    pipeline.finished_at = max(finished) if done and finished else None
    moments = [pipeline.updated_at] + [t for j in jobs for t in (j.created_at, j.started_at, j.finished_at) if t]
    pipeline.updated_at = max(moments)
