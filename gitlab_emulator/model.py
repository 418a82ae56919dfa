"""The emulated GitLab instance as plain records, with the indexes the handlers need."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
"""GitLab access levels."""

MAINTAINER_USER_ID = 1
"""The user behind the maintainer, OAuth and job tokens."""
REPORTER_USER_ID = 2
"""The user behind the reporter token."""

FINISHED_JOB_STATUSES = frozenset({"success", "failed", "canceled"})
ACTIVE_JOB_STATUSES = frozenset({"created", "pending", "running"})


@dataclass(slots=True)
class User:
    """A GitLab user."""

    id: int
    username: str
    name: str
    email: str
    created_at: datetime
    state: str = "active"
    bot: bool = False
    tz_minutes: int = 0


@dataclass(slots=True)
class Group:
    """A group or subgroup; `full_path` is e.g. "acme/platform/infra"."""

    id: int
    name: str
    path: str
    full_path: str
    full_name: str
    description: str
    parent_id: int | None
    created_at: datetime
    visibility: str = "private"


@dataclass(slots=True)
class Project:
    """A project. `token_access_cap` caps the tokens' access: None hides it, GUEST restricts CI.

    `hidden_from_user_ids`: users who are no members of this private project, so their tokens get 404 there.
    """

    id: int
    name: str
    path: str
    description: str
    namespace_id: int
    path_with_namespace: str
    name_with_namespace: str
    created_at: datetime
    last_activity_at: datetime
    updated_at: datetime
    creator_id: int
    default_branch: str = "main"
    visibility: str = "private"
    archived: bool = False
    topics: list[str] = field(default_factory=list)
    star_count: int = 0
    forks_count: int = 0
    token_access_cap: int | None = OWNER
    shared_with_group_ids: list[int] = field(default_factory=list)
    hidden_from_user_ids: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Member:
    """A direct membership of a user in a group or project."""

    user_id: int
    access_level: int
    created_at: datetime
    created_by_id: int
    expires_at: datetime | None = None


@dataclass(slots=True)
class Runner:
    """A CI runner that picked up jobs."""

    id: int
    description: str
    runner_type: str
    is_shared: bool
    system_id: str
    version: str
    revision: str
    ip_address: str


@dataclass(slots=True)
class Commit:
    """A commit on the project's linear default-branch history (`position` 0 is the root)."""

    sha: str
    project_id: int
    position: int
    title: str
    message: str
    author_name: str
    author_email: str
    authored_date: datetime
    committed_date: datetime
    tz_minutes: int
    parent_ids: list[str]


@dataclass(slots=True)
class Pipeline:
    """A CI pipeline."""

    id: int
    iid: int
    project_id: int
    sha: str
    before_sha: str
    ref: str
    tag: bool
    status: str
    source: str
    created_at: datetime
    updated_at: datetime
    user_id: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    name: str | None = None


@dataclass(slots=True)
class Job:
    """A CI job. `leaks` holds (kind, value_key) pairs of secrets its trace prints."""

    id: int
    project_id: int
    pipeline_id: int
    name: str
    stage: str
    status: str
    created_at: datetime
    user_id: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    erased_at: datetime | None = None
    queued_duration: float | None = None
    allow_failure: bool = False
    retried: bool = False
    runner_id: int | None = None
    failure_reason: str | None = None
    coverage: float | None = None
    tag_list: list[str] = field(default_factory=list)
    artifacts: bool = False
    trace_bytes: int = 0
    leaks: tuple[tuple[str, str], ...] = ()
    touched_at: datetime | None = None


@dataclass(slots=True)
class Issue:
    """A project issue."""

    id: int
    iid: int
    project_id: int
    title: str
    description: str
    state: str
    created_at: datetime
    updated_at: datetime
    author_id: int
    assignee_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    milestone_id: int | None = None
    weight: int | None = None
    closed_at: datetime | None = None
    closed_by_id: int | None = None
    confidential: bool = False
    discussion_locked: bool | None = None
    due_date: datetime | None = None
    upvotes: int = 0
    downvotes: int = 0
    time_estimate: int = 0
    total_time_spent: int = 0


@dataclass(slots=True)
class MergeRequest:
    """A merge request."""

    id: int
    iid: int
    project_id: int
    title: str
    description: str
    state: str
    created_at: datetime
    updated_at: datetime
    author_id: int
    source_branch: str
    target_branch: str
    sha: str
    assignee_ids: list[int] = field(default_factory=list)
    reviewer_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    milestone_id: int | None = None
    merged_at: datetime | None = None
    merged_by_id: int | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    closed_by_id: int | None = None
    draft: bool = False
    upvotes: int = 0
    downvotes: int = 0


@dataclass(slots=True)
class Note:
    """A comment or system note on an issue or merge request."""

    id: int
    project_id: int
    noteable_type: str
    noteable_id: int
    noteable_iid: int
    body: str
    author_id: int
    created_at: datetime
    updated_at: datetime
    system: bool = False
    resolvable: bool = False
    resolved: bool = False
    internal: bool = False


@dataclass(slots=True)
class Branch:
    """A branch pointing at a commit of the linear history."""

    project_id: int
    name: str
    commit_sha: str
    protected: bool = False
    merged: bool = False


@dataclass(slots=True)
class Tag:
    """A tag; annotated tags carry a message and a created_at."""

    project_id: int
    name: str
    commit_sha: str
    message: str | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class Release:
    """A release attached to a tag."""

    project_id: int
    tag_name: str
    name: str
    description: str
    created_at: datetime
    released_at: datetime
    author_id: int
    commit_sha: str
    milestone_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Milestone:
    """A project milestone."""

    id: int
    iid: int
    project_id: int
    title: str
    description: str
    state: str
    created_at: datetime
    updated_at: datetime
    start_date: datetime | None = None
    due_date: datetime | None = None


@dataclass(slots=True)
class Label:
    """A project label (project_id set) or a group label (group_id set)."""

    id: int
    name: str
    color: str
    description: str | None
    created_at: datetime
    project_id: int | None = None
    group_id: int | None = None
    priority: int | None = None


@dataclass(slots=True)
class Environment:
    """A deployment environment."""

    id: int
    project_id: int
    name: str
    slug: str
    external_url: str | None
    state: str
    tier: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Deployment:
    """A deployment of a job to an environment."""

    id: int
    iid: int
    project_id: int
    environment_id: int
    job_id: int
    ref: str
    sha: str
    status: str
    user_id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job of a project's CI configuration; `deploy_env` names the environment a deploy job targets."""

    name: str
    stage: str
    allow_failure: bool = False
    artifacts: bool = False
    tags: tuple[str, ...] = ("docker",)
    deploy_env: str | None = None


class IdAllocator:
    """Hands out ids per table from distinct ranges, so ids of different types never collide."""

    START = {
        "users": 1, "groups": 10, "projects": 100, "runners": 900, "milestones": 1_000,
        "labels": 2_000, "environments": 3_000, "deployments": 5_000, "issues": 20_000,
        "merge_requests": 40_000, "pipelines": 60_000, "notes": 300_000, "jobs": 1_000_000,
    }

    def __init__(self) -> None:
        self._counters = {table: itertools.count(start) for table, start in self.START.items()}

    def next(self, table: str) -> int:
        """Returns the next id for a table."""
        return next(self._counters[table])


@dataclass
class World:
    """All data of the emulated instance plus per-project indexes; mutate only through `add_*`."""

    seed: int
    now: datetime
    ids: IdAllocator = field(default_factory=IdAllocator)
    schema_drift: bool = False
    advance_count: int = 0
    version: int = 0
    users: dict[int, User] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    runners: dict[int, Runner] = field(default_factory=dict)
    group_members: dict[int, dict[int, Member]] = field(default_factory=dict)
    project_members: dict[int, dict[int, Member]] = field(default_factory=dict)
    commits: dict[int, list[Commit]] = field(default_factory=dict)
    commit_index: dict[tuple[int, str], Commit] = field(default_factory=dict)
    pipelines: dict[int, Pipeline] = field(default_factory=dict)
    project_pipelines: dict[int, list[Pipeline]] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    project_jobs: dict[int, list[Job]] = field(default_factory=dict)
    pipeline_jobs: dict[int, list[Job]] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    project_issues: dict[int, dict[int, Issue]] = field(default_factory=dict)
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    project_merge_requests: dict[int, dict[int, MergeRequest]] = field(default_factory=dict)
    notes: dict[int, Note] = field(default_factory=dict)
    noteable_notes: dict[tuple[str, int], list[Note]] = field(default_factory=dict)
    branches: dict[int, dict[str, Branch]] = field(default_factory=dict)
    tags: dict[int, dict[str, Tag]] = field(default_factory=dict)
    releases: dict[int, dict[str, Release]] = field(default_factory=dict)
    milestones: dict[int, Milestone] = field(default_factory=dict)
    project_milestones: dict[int, list[Milestone]] = field(default_factory=dict)
    labels: dict[int, Label] = field(default_factory=dict)
    project_labels: dict[int, list[Label]] = field(default_factory=dict)
    group_labels: dict[int, list[Label]] = field(default_factory=dict)
    environments: dict[int, Environment] = field(default_factory=dict)
    project_environments: dict[int, list[Environment]] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    project_deployments: dict[int, list[Deployment]] = field(default_factory=dict)
    deployment_by_job: dict[int, Deployment] = field(default_factory=dict)
    ci_plans: dict[int, tuple[JobSpec, ...]] = field(default_factory=dict)
    group_by_path: dict[str, Group] = field(default_factory=dict)
    project_by_path: dict[str, Project] = field(default_factory=dict)

    # ----- adding rows (keeps the indexes consistent) -----

    def add_user(self, user: User) -> User:
        """Registers a user."""
        self.users[user.id] = user
        return user

    def add_group(self, group: Group) -> Group:
        """Registers a group."""
        self.groups[group.id] = group
        self.group_by_path[group.full_path.lower()] = group
        self.group_members.setdefault(group.id, {})
        self.group_labels.setdefault(group.id, [])
        return group

    def add_project(self, project: Project) -> Project:
        """Registers a project and creates its empty per-project indexes."""
        self.projects[project.id] = project
        self.project_by_path[project.path_with_namespace.lower()] = project
        for index in (
            self.project_members, self.branches, self.tags, self.releases, self.project_issues,
            self.project_merge_requests,
        ):
            index.setdefault(project.id, {})
        for listing in (
            self.commits, self.project_pipelines, self.project_jobs, self.project_milestones,
            self.project_labels, self.project_environments, self.project_deployments,
        ):
            listing.setdefault(project.id, [])
        return project

    def add_commit(self, commit: Commit) -> Commit:
        """Appends a commit to the project's history."""
        self.commits[commit.project_id].append(commit)
        self.commit_index[(commit.project_id, commit.sha)] = commit
        return commit

    def add_pipeline(self, pipeline: Pipeline) -> Pipeline:
        """Registers a pipeline (ids grow, so per-project lists stay sorted by id)."""
        self.pipelines[pipeline.id] = pipeline
        self.project_pipelines[pipeline.project_id].append(pipeline)
        self.pipeline_jobs[pipeline.id] = []
        return pipeline

    def add_job(self, job: Job) -> Job:
        """Registers a job in the project and pipeline indexes."""
        self.jobs[job.id] = job
        self.project_jobs[job.project_id].append(job)
        self.pipeline_jobs[job.pipeline_id].append(job)
        return job

    def add_issue(self, issue: Issue) -> Issue:
        """Registers an issue."""
        self.issues[issue.id] = issue
        self.project_issues[issue.project_id][issue.iid] = issue
        return issue

    def add_merge_request(self, mr: MergeRequest) -> MergeRequest:
        """Registers a merge request."""
        self.merge_requests[mr.id] = mr
        self.project_merge_requests[mr.project_id][mr.iid] = mr
        return mr

    def add_note(self, note: Note) -> Note:
        """Registers a note under its noteable."""
        self.notes[note.id] = note
        self.noteable_notes.setdefault((note.noteable_type, note.noteable_id), []).append(note)
        return note

    def add_milestone(self, milestone: Milestone) -> Milestone:
        """Registers a milestone."""
        self.milestones[milestone.id] = milestone
        self.project_milestones[milestone.project_id].append(milestone)
        return milestone

    def add_label(self, label: Label) -> Label:
        """Registers a project or group label."""
        self.labels[label.id] = label
        if label.project_id is not None:
            self.project_labels[label.project_id].append(label)
        else:
            assert label.group_id is not None
            self.group_labels[label.group_id].append(label)
        return label

    def remove_pipeline(self, pipeline: Pipeline) -> None:
        """Deletes a pipeline with its jobs and their deployments, as GitLab's pipeline deletion does."""
        for job in self.pipeline_jobs.pop(pipeline.id):
            del self.jobs[job.id]
            self.project_jobs[job.project_id].remove(job)
            deployment = self.deployment_by_job.pop(job.id, None)
            if deployment is not None:
                del self.deployments[deployment.id]
                self.project_deployments[deployment.project_id].remove(deployment)
        del self.pipelines[pipeline.id]
        self.project_pipelines[pipeline.project_id].remove(pipeline)

    def remove_label(self, label: Label) -> None:
        """Deletes a label."""
        del self.labels[label.id]
        if label.project_id is not None:
            self.project_labels[label.project_id].remove(label)
        else:
            assert label.group_id is not None
            self.group_labels[label.group_id].remove(label)

    def add_environment(self, environment: Environment) -> Environment:
        """Registers an environment."""
        self.environments[environment.id] = environment
        self.project_environments[environment.project_id].append(environment)
        return environment

    def add_deployment(self, deployment: Deployment) -> Deployment:
        """Registers a deployment."""
        self.deployments[deployment.id] = deployment
        self.project_deployments[deployment.project_id].append(deployment)
        self.deployment_by_job[deployment.job_id] = deployment
        return deployment

    # ----- look-ups -----

    def find_group(self, ref: str) -> Group | None:
        """Finds a group by numeric id or (decoded) full path, case-insensitively."""
        if ref.isdigit():
            return self.groups.get(int(ref))
        return self.group_by_path.get(ref.lower())

    def find_project(self, ref: str) -> Project | None:
        """Finds a project by numeric id or (decoded) full path, case-insensitively."""
        if ref.isdigit():
            return self.projects.get(int(ref))
        return self.project_by_path.get(ref.lower())

    def group_ancestors(self, group: Group) -> list[Group]:
        """Returns the group's ancestors, nearest first."""
        chain: list[Group] = []
        parent_id = group.parent_id
        while parent_id is not None:
            parent = self.groups[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    def group_descendants(self, group: Group) -> list[Group]:
        """Returns all descendants of the group (any depth), in id order."""
        found: list[Group] = []
        frontier = [group.id]
        while frontier:
            children = [g for g in self.groups.values() if g.parent_id in frontier]
            found.extend(children)
            frontier = [g.id for g in children]
        return sorted(found, key=lambda g: g.id)

    def project_ancestor_groups(self, project: Project) -> list[Group]:
        """Returns the project's namespace group followed by its ancestors."""
        namespace = self.groups[project.namespace_id]
        return [namespace, *self.group_ancestors(namespace)]

    def commit(self, project_id: int, sha: str) -> Commit:
        """Returns a commit of the project by sha."""
        return self.commit_index[(project_id, sha)]

    def head(self, project_id: int) -> Commit:
        """Returns the newest commit of the default branch."""
        return self.commits[project_id][-1]

    def iter_notes(self, noteable_type: str, noteable_id: int) -> Iterator[Note]:
        """Yields the notes of one issue or merge request in creation order."""
        yield from self.noteable_notes.get((noteable_type, noteable_id), [])

    def touch(self) -> None:
        """Marks the world as changed (invalidates caches keyed on `version`)."""
        self.version += 1
