"""Schema drift: GitLab adding fields and changing a type, plus fresh updates so incremental loads notice."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gitlab_emulator.clock import truncate_ms
from gitlab_emulator.model import World
from gitlab_emulator.truth import ci_readable, visible

DRIFT_MINUTES = 1
"""How far `apply_schema_drift` moves the clock, so the bumped rows are newer than anything loaded before."""


def apply_schema_drift(world: World) -> None:
    """Switches the world to the drifted schema and bumps a few rows' updated_at.

    From then on every issue and merge request carries `imported_from: "none"`, every job a nested
    `runner_manager` object, and issue `weight` is a string ("3"). The clock moves forward by
    DRIFT_MINUTES and three issues, two merge requests and two pipelines (so their jobs are fetched
    again) get an updated_at inside that minute.

    Args:
        world (World): The world (call with its lock held).
    """
    world.schema_drift = True
    rng = random.Random(f"{world.seed}:drift:{world.advance_count}")
    t0 = world.now
    world.now = t0 + timedelta(minutes=DRIFT_MINUTES)
    projects = [p for p in sorted(world.projects.values(), key=lambda p: p.id) if visible(p) and not p.archived]

    def moment() -> datetime:
        return truncate_ms(t0 + timedelta(seconds=rng.uniform(1, DRIFT_MINUTES * 60 - 1)))

    issues = [i for p in projects for i in world.project_issues[p.id].values()]
    for issue in rng.sample(issues, min(3, len(issues))):
        issue.updated_at = moment()
    mrs = [m for p in projects for m in world.project_merge_requests[p.id].values()]
    for mr in rng.sample(mrs, min(2, len(mrs))):
        mr.updated_at = moment()
    pipelines = [pl for p in projects if ci_readable(p) for pl in world.project_pipelines[p.id]
                 if pl.status in ("success", "failed")]
    for pipeline in rng.sample(pipelines, min(2, len(pipelines))):
        pipeline.updated_at = moment()
    world.touch()
