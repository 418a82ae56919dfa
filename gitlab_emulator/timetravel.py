"""Time travel: moving the emulator clock forward and making deterministic changes inside the new interval."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gitlab_emulator.ci import PipelineFactory
from gitlab_emulator.clock import truncate_ms
from gitlab_emulator.model import ACTIVE_JOB_STATUSES, Branch, Issue, Member, MergeRequest, Project, Tag, World
from gitlab_emulator.seed import UNUSED_LABELS, Seeder
from gitlab_emulator.truth import ci_readable, visible

_WORDS = ("onboarding", "reports", "limits", "caching", "alerts", "exports", "tokens", "search", "settings")


def advance(world: World, hours: float) -> None:
    """Moves the clock forward by `hours` and changes every visible, non-archived project inside the interval.

    Per project: new commits, a branch added and one deleted, a tag added, running and pending
    pipelines finished, one old failed job retried, one or two new pipelines (the second still
    running), a new issue, an issue updated, a note on an older issue (touching its updated_at),
    likewise for merge requests (one is merged), an unused label deleted, a member removed and
    one added, and deployments from the new pipeline's deploy jobs. Deterministic given the seed
    and the number of earlier calls.

    Args:
        world (World): The world (call with its lock held).
        hours (float): How far to move the clock; must be positive.
    """
    if hours <= 0:
        raise ValueError(f"advance(hours=...) must move the clock forward, got {hours}")
    world.advance_count += 1
    rng = random.Random(f"{world.seed}:advance:{world.advance_count}")
    t0 = world.now
    t1 = truncate_ms(t0 + timedelta(hours=hours))
    world.now = t1
    for project in sorted(world.projects.values(), key=lambda p: p.id):
        if visible(project) and not project.archived:
            _ProjectTravel(world, rng, project, t0, t1).run()
    world.touch()


class _ProjectTravel:
    """The changes time travel makes in one project, each at a fixed fraction of the interval."""

    def __init__(self, world: World, rng: random.Random, project: Project, t0: datetime, t1: datetime) -> None:
        self.world = world
        self.rng = rng
        self.project = project
        self.t0 = t0
        self.t1 = t1
        self.seeder = Seeder(world, rng)
        self.factory = PipelineFactory(world, rng, plant=ci_readable(project))

    def at(self, low: float, high: float) -> datetime:
        """A moment between the given fractions of the interval."""
        return truncate_ms(self.t0 + (self.t1 - self.t0) * self.rng.uniform(low, high))

    def run(self) -> None:
        """Applies every change in time order."""
        self.finish_running_pipelines()
        self.add_commits()
        merged_branch = self.merge_request_merged()
        self.delete_branch(merged_branch)
        new_branch = self.add_branch()
        self.add_tag()
        self.new_pipelines()
        self.retry_failed_job()
        self.new_issue()
        self.update_issue()
        self.comment_older("Issue")
        self.new_merge_request(new_branch)
        self.comment_older("MergeRequest")
        self.delete_unused_label()
        self.change_members()
        self.project.last_activity_at = self.project.updated_at = self.at(0.9, 0.95)

    def finish_running_pipelines(self) -> None:
        """Runs every unfinished job of older pipelines to success early in the interval."""
        for pipeline in list(self.world.project_pipelines[self.project.id]):
            if pipeline.status in ACTIVE_JOB_STATUSES and pipeline.created_at <= self.t0:
                self.factory.resume(pipeline, self.at(0.01, 0.02), self.at(0.2, 0.25))

    def add_commits(self) -> None:
        """Pushes two to four commits to the default branch."""
        for moment in sorted(self.at(0.26, 0.3) for _ in range(self.rng.randint(2, 4))):
            self.seeder.add_commit(self.project, moment)
        default = self.world.branches[self.project.id][self.project.default_branch]
        default.commit_sha = self.world.head(self.project.id).sha

    def merge_request_merged(self) -> str | None:
        """Merges the oldest open merge request with a merge commit; returns its source branch."""
        world, project = self.world, self.project
        opened = [m for m in world.project_merge_requests[project.id].values() if m.state == "opened"]
        if not opened:
            return None
        mr = min(opened, key=lambda m: m.iid)
        moment = self.at(0.31, 0.32)
        merge = self.seeder.add_commit(project, moment, title=f"Merge branch '{mr.source_branch}' into "
                                                              f"'{project.default_branch}'")
        world.branches[project.id][project.default_branch].commit_sha = merge.sha
        mr.state, mr.merged_at, mr.merge_commit_sha = "merged", moment, merge.sha
        mr.merged_by_id = self.rng.choice(self.seeder.humans())
        mr.updated_at = moment
        self.seeder.add_note(project, "MergeRequest", mr.id, mr.iid, mr.merged_by_id, "merged", moment, system=True)
        return mr.source_branch

    def delete_branch(self, preferred: str | None) -> None:
        """Deletes the merged source branch, or else the first unprotected branch."""
        branches = self.world.branches[self.project.id]
        candidates = sorted(name for name, b in branches.items() if not b.protected)
        victim = preferred if preferred in branches else (candidates[0] if candidates else None)
        if victim is not None and not branches[victim].protected:
            del branches[victim]

    def add_branch(self) -> str:
        """Creates a feature branch at the new head."""
        name = f"feature/{self.rng.choice(_WORDS)}-{self.world.advance_count}"
        self.world.branches[self.project.id][name] = Branch(self.project.id, name, self.world.head(self.project.id).sha)
        return name

    def add_tag(self) -> None:
        """Tags the new head with the next minor version."""
        tags = self.world.tags[self.project.id]
        name = f"v2.{self.world.advance_count}.0"
        if name not in tags:
            tags[name] = Tag(self.project.id, name, self.world.head(self.project.id).sha, f"Version {name[1:]}",
                             self.at(0.33, 0.34))

    def new_pipelines(self) -> None:
        """Runs one pipeline on the new head to completion and, half the time, starts one that keeps running."""
        project, world = self.project, self.world
        head = world.head(project.id)
        user = self.rng.choice(self.seeder.humans())
        self.factory.create(project, created_at=self.at(0.35, 0.36), ref=project.default_branch, tag=False,
                            sha=head.sha, before_sha=head.parent_ids[0] if head.parent_ids else "0" * 40,
                            source="push", user_id=user, outcome=self.rng.choice(("success", "success", "failed")),
                            fail_last_stage=True)
        if self.rng.random() < 0.5:
            started = truncate_ms(self.t1 - (self.t1 - self.t0) * self.rng.uniform(0.001, 0.003))
            self.factory.create(project, created_at=started, ref=project.default_branch, tag=False, sha=head.sha,
                                before_sha=head.parent_ids[0] if head.parent_ids else "0" * 40, source="web",
                                user_id=user, outcome="running")

    def retry_failed_job(self) -> None:
        """Retries the oldest strictly failed, not yet retried job of a finished pipeline."""
        world = self.world
        candidates = [j for j in world.project_jobs[self.project.id]
                      if j.status == "failed" and not j.retried and not j.allow_failure
                      and j.created_at < self.t0 and world.pipelines[j.pipeline_id].status == "failed"]
        if candidates:
            self.factory.retry(candidates[0], self.at(0.6, 0.62), self.at(0.7, 0.72))

    def new_issue(self) -> None:
        """Opens a new issue."""
        world, project = self.world, self.project
        moment = self.at(0.4, 0.45)
        iid = max(world.project_issues[project.id], default=0) + 1
        word = self.rng.choice(_WORDS)
        world.add_issue(Issue(
            id=world.ids.next("issues"), iid=iid, project_id=project.id, title=f"Follow-up on {word}",
            description=f"Found while looking at {word}.", state="opened", created_at=moment, updated_at=moment,
            author_id=self.rng.choice(self.seeder.humans()), weight=self.rng.randint(1, 5),
        ))

    def update_issue(self) -> None:
        """Closes, reopens or retitles an older issue, with the matching system note."""
        world, project = self.world, self.project
        older = sorted((i for i in world.project_issues[project.id].values() if i.created_at < self.t0),
                       key=lambda i: i.iid)
        if not older:
            return
        issue = older[self.rng.randrange(len(older))]
        moment = self.at(0.5, 0.55)
        actor = self.rng.choice(self.seeder.humans())
        if issue.state == "opened" and self.rng.random() < 0.5:
            issue.state, issue.closed_at, issue.closed_by_id = "closed", moment, actor
            body = "closed"
        elif issue.state == "closed":
            issue.state, issue.closed_at, issue.closed_by_id = "opened", None, None
            body = "reopened"
        else:
            new_title = f"{issue.title} (updated)"
            body = f"changed title from **{issue.title}** to **{new_title}**"
            issue.title = new_title
        issue.updated_at = moment
        self.seeder.add_note(project, "Issue", issue.id, issue.iid, actor, body, moment, system=True)

    def comment_older(self, kind: str) -> None:
        """Adds a comment to an older issue or merge request; GitLab then touches its updated_at."""
        world, project = self.world, self.project
        rows: list[Issue] | list[MergeRequest]
        if kind == "Issue":
            rows = sorted((i for i in world.project_issues[project.id].values() if i.created_at < self.t0),
                          key=lambda i: i.iid)
        else:
            rows = sorted((m for m in world.project_merge_requests[project.id].values() if m.created_at < self.t0),
                          key=lambda m: m.iid)
        if not rows:
            return
        target = rows[self.rng.randrange(len(rows))]
        moment = self.at(0.75, 0.8)
        self.seeder.add_note(project, kind, target.id, target.iid, self.rng.choice(self.seeder.humans()),
                             self.rng.choice(("Still seeing this on the latest build.", "Ping: any update?",
                                              "Verified, works for me now.")), moment)
        target.updated_at = max(target.updated_at, moment)

    def new_merge_request(self, branch: str) -> None:
        """Opens a merge request from the new branch."""
        world, project = self.world, self.project
        moment = self.at(0.45, 0.5)
        iid = max(world.project_merge_requests[project.id], default=0) + 1
        world.add_merge_request(MergeRequest(
            id=world.ids.next("merge_requests"), iid=iid, project_id=project.id, title=f"Add {branch.split('/')[-1]}",
            description="Implements the change discussed in the issue.", state="opened", created_at=moment,
            updated_at=moment, author_id=self.rng.choice(self.seeder.humans()), source_branch=branch,
            target_branch=project.default_branch, sha=world.branches[project.id][branch].commit_sha,
        ))

    def delete_unused_label(self) -> None:
        """Deletes the oldest project label no issue or merge request uses (if one is left)."""
        world, project = self.world, self.project
        used = {name for i in world.project_issues[project.id].values() for name in i.labels}
        used |= {name for m in world.project_merge_requests[project.id].values() for name in m.labels}
        unused = [lb for lb in world.project_labels[project.id] if lb.name in UNUSED_LABELS and lb.name not in used]
        if unused:
            world.remove_label(unused[0])

    def change_members(self) -> None:
        """Removes one direct project member and adds a user who was not one."""
        world, project = self.world, self.project
        members = world.project_members[project.id]
        if members:
            del members[sorted(members)[self.rng.randrange(len(members))]]
        outsiders = [uid for uid in self.seeder.humans() if uid not in members]
        if outsiders:
            uid = outsiders[self.rng.randrange(len(outsiders))]
            members[uid] = Member(uid, self.rng.choice((20, 30, 40)), self.at(0.85, 0.9), self.seeder.humans()[0])
