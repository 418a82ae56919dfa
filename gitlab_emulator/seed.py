"""Builds the deterministic default world (`seed_world`), optionally with a large `acme/perf` subgroup."""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from gitlab_emulator.ci import BIG_TRACE_BYTES, PipelineFactory, seconds
from gitlab_emulator.clock import EPOCH, truncate_ms
from gitlab_emulator.leaks import SHARED_VALUE_KEY
from gitlab_emulator.model import (
    DEVELOPER, GUEST, MAINTAINER, MAINTAINER_USER_ID, OWNER, REPORTER, REPORTER_USER_ID, Branch, Commit, Environment,
    Group, Issue, JobSpec, Label, Member, MergeRequest, Milestone, Note, Project, Release, Runner, Tag, User, World,
)

_HUMANS = (
    ("alice", "Alice Archer", 60), ("bob", "Bob Baker", 0), ("carol", "Carol Chen", 480),
    ("dave", "Dave Dubois", 60), ("erin", "Erin Eriksen", 120), ("frank", "Frank Fischer", 60),
    ("grace", "Grace Gupta", 330), ("heidi", "Heidi Hansen", -300), ("ivan", "Ivan Ivanov", 180),
    ("judy", "Judy Jones", -480),
)
_WORDS = ("login", "billing", "search", "export", "cache", "retry", "webhooks", "audit-log", "rate-limit",
          "pagination", "metrics", "dark-mode", "sso", "quota", "backup", "alerts")
_COMMIT_TITLES = (
    "Fix flaky {w} spec", "Add {w} endpoint", "Refactor {w} service", "Bump dependencies", "Update README",
    "Improve {w} error messages", "Remove dead {w} code", "Add tests for {w}", "Tune {w} timeouts",
    "Document {w} configuration", "Handle empty {w} responses", "Speed up {w} queries",
)
_ISSUE_TITLES = (
    "{W} fails on large inputs", "Support {w} in the API", "{W} page is slow", "Crash when {w} is disabled",
    "Add metrics for {w}", "Document {w} limits", "{W} returns 500 for guests", "Flaky test in {w}",
)
_PROJECT_LABELS = (
    ("bug", "#d9534f", "Something is broken"), ("feature", "#428bca", "New functionality"),
    ("documentation", "#5cb85c", None), ("tech-debt", "#f0ad4e", "Cleanup work"),
    ("needs-review", "#8e44ad", None), ("wontfix", "#7f8c8d", "Will not be worked on"),
    ("flaky-test", "#ed9121", None), ("stale", "#cccccc", "No activity"),
)
UNUSED_LABELS = ("wontfix", "flaky-test", "stale")
"""Project labels no issue or merge request uses, so time travel can delete them without side effects."""


def _plan(*entries: tuple[str, str] | JobSpec) -> tuple[JobSpec, ...]:
    """Builds a CI plan from (stage, name) pairs or ready JobSpecs."""
    return tuple(e if isinstance(e, JobSpec) else JobSpec(name=e[1], stage=e[0]) for e in entries)


_PLANS: dict[str, tuple[JobSpec, ...]] = {
    "website": _plan(JobSpec("build-assets", "build", artifacts=True), ("test", "jest"), ("test", "rspec"),
                     ("lint", "eslint"), JobSpec("deploy-staging", "deploy", deploy_env="staging"),
                     JobSpec("deploy-production", "deploy", deploy_env="production")),
    "api": _plan(JobSpec("compile", "build", artifacts=True), ("test", "unit-tests"), ("test", "integration-tests"),
                 ("lint", "golangci-lint"), JobSpec("trivy-scan", "security", allow_failure=True),
                 JobSpec("deploy-staging", "deploy", deploy_env="staging"),
                 JobSpec("deploy-production", "deploy", deploy_env="production")),
    "worker": _plan(("lint", "ruff"), ("test", "pytest"), JobSpec("mypy", "test", allow_failure=True),
                    JobSpec("docker-build", "build", artifacts=True),
                    JobSpec("deploy-staging", "deploy", deploy_env="staging")),
    "legacy": _plan(JobSpec("make", "build", artifacts=True), ("test", "make-test")),
    "terraform": _plan(("validate", "tf-validate"), JobSpec("tf-plan", "plan", artifacts=True),
                       JobSpec("tf-apply", "deploy", deploy_env="production")),
    "warehouse": _plan(("lint", "sqlfluff"), ("test", "dbt-test"),
                       JobSpec("dbt-run", "deploy", deploy_env="production")),
    "restricted": _plan(("test", "pytest"), JobSpec("deploy-production", "deploy", deploy_env="production")),
    "secret": _plan(("build", "compile"), ("test", "unit-tests")),
    "shared": _plan(("build", "build"), ("test", "test"), ("lint", "lint")),
    "perf": _plan(JobSpec("compile", "build", artifacts=True), ("test", "unit-tests"), ("test", "integration-tests"),
                  ("lint", "lint"), JobSpec("package", "package", artifacts=True)),
}


@dataclass(frozen=True)
class _ProjectSpec:
    """How to seed one project."""

    group: str
    path: str
    name: str
    description: str
    plan: str
    pipelines: int
    archived: bool = False
    cap: int | None = OWNER
    plant: bool = True
    active: bool = True
    commits: tuple[int, int] = (24, 36)
    issues: tuple[int, int] = (8, 14)
    merge_requests: tuple[int, int] = (5, 9)


_DEFAULT_PROJECTS = (
    _ProjectSpec("acme", "website", "Website", "Public marketing site and docs", "website", 12),
    _ProjectSpec("acme/platform", "api", "API", "Core REST API", "api", 16),
    _ProjectSpec("acme/platform", "worker", "Worker", "Background job runner", "worker", 14),
    _ProjectSpec("acme/platform", "legacy", "Legacy", "The old monolith (archived)", "legacy", 6, archived=True,
                 active=False),
    _ProjectSpec("acme/platform/infra", "terraform", "Terraform", "Infrastructure as code", "terraform", 10),
    _ProjectSpec("acme/data", "warehouse", "Warehouse", "dbt models for the data warehouse", "warehouse", 10),
    _ProjectSpec("acme/data", "restricted", "Restricted", "Finance data; CI is limited to maintainers",
                 "restricted", 6, cap=GUEST, plant=False),
    _ProjectSpec("acme", "secret-project", "Secret Project", "Invisible to the emulator's tokens", "secret", 5,
                 cap=None, plant=False, active=False),
    _ProjectSpec("other", "shared-tool", "Shared Tool", "A tool shared with acme", "shared", 6),
)


def seed_world(seed: int = 7, jobs: int | None = None) -> World:
    """Builds the emulator's deterministic world.

    The default world is small (about 100 pipelines, a few hundred jobs). With `jobs`, an `acme/perf`
    subgroup with four projects is added holding about `jobs` finished jobs (pipelines of 5 jobs).

    Args:
        seed (int): Seed of every random choice. Defaults to 7.
        jobs (int, optional): Finished jobs to add under `acme/perf` for benchmarks. Defaults to None.
    Returns:
        World: The seeded world, its clock at `clock.EPOCH`.
    """
    world = World(seed=seed, now=EPOCH)
    seeder = Seeder(world, random.Random(f"{seed}:world"))
    seeder.seed_default()
    if jobs:
        seeder.rng = random.Random(f"{seed}:perf:{jobs}")
        seeder.seed_perf(jobs)
    return world


_TINY_PROJECT = _ProjectSpec("acme", "app", "App", "A small app", "legacy", 1, active=False, commits=(8, 8),
                             issues=(2, 2), merge_requests=(1, 1))


def seed_tiny_world(seed: int = 7) -> World:
    """Builds a world with one small project, `acme/app`, that loads in about 20 requests.

    For tests under tight rate limits (30 requests a minute), where the default world would take minutes.

    Args:
        seed (int): Seed of every random choice. Defaults to 7.
    Returns:
        World: The seeded world, its clock at `clock.EPOCH`.
    """
    world = World(seed=seed, now=EPOCH)
    seeder = Seeder(world, random.Random(f"{seed}:tiny"))
    seeder.seed_users()
    seeder.seed_runners()
    seeder.add_group("acme", "Acme", None, "Acme Corporation")
    seeder.seed_project(_TINY_PROJECT)
    return world


def commit_sha(seed: int, project_id: int, position: int) -> str:
    """Derives a commit sha (40 hex) from the seed, project and position in history."""
    return hashlib.sha1(f"{seed}:{project_id}:{position}".encode()).hexdigest()


class Seeder:
    """Fills a world family by family; every choice comes from `rng`. Time travel reuses its row builders."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng

    # ----- helpers -----

    def at(self, start: datetime, end: datetime) -> datetime:
        """A random moment between start and end, in whole milliseconds."""
        return truncate_ms(start + (end - start) * self.rng.random())

    def humans(self) -> list[int]:
        """Ids of the human users."""
        return [u.id for u in self.world.users.values() if not u.bot]

    # ----- default world -----

    def seed_default(self) -> None:
        """Seeds users, runners, groups, the default projects and everything in them."""
        self.seed_users()
        self.seed_runners()
        self.seed_groups()
        for spec in _DEFAULT_PROJECTS:
            self.seed_project(spec)
        self.share_project("other/shared-tool", "acme")
        self.finalize_leaks_and_big_traces(("acme/platform/api",))

    def seed_users(self) -> None:
        """Creates the token users and ten humans."""
        world, created = self.world, EPOCH - timedelta(days=900)
        world.add_user(User(MAINTAINER_USER_ID, "emulator-maintainer", "Emulator Maintainer",
                            "maintainer@emulator.example.com", created, bot=False))
        world.add_user(User(REPORTER_USER_ID, "emulator-reporter", "Emulator Reporter",
                            "reporter@emulator.example.com", created))
        for _ in (MAINTAINER_USER_ID, REPORTER_USER_ID):  # those ids are taken: move the counter past them
            world.ids.next("users")
        for username, name, tz in _HUMANS:
            world.add_user(User(world.ids.next("users"), username, name, f"{username}@acme.example.com",
                                self.at(created, created + timedelta(days=300)), tz_minutes=tz))

    def seed_runners(self) -> None:
        """Creates four runners."""
        for description, kind, shared in (("docker-runner-1", "instance_type", True),
                                          ("docker-runner-2", "instance_type", True),
                                          ("k8s-runner-acme", "group_type", False),
                                          ("docker-runner-api", "project_type", False)):
            rid = self.world.ids.next("runners")
            self.world.runners[rid] = Runner(
                id=rid, description=description, runner_type=kind, is_shared=shared,
                system_id=f"s_{'%012x' % self.rng.getrandbits(48)}", version="17.7.0", revision="3153ccc6",
                ip_address=f"10.0.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}",
            )

    def seed_groups(self) -> None:
        """Creates acme (with nested subgroups) and other, their members and group labels."""
        specs = (("acme", "Acme", None, "Acme Corporation"), ("acme/platform", "Platform", "acme", "Platform team"),
                 ("acme/platform/infra", "Infra", "acme/platform", "Infrastructure"),
                 ("acme/data", "Data", "acme", "Data team"), ("other", "Other", None, "Another organisation"))
        for full_path, name, parent_path, description in specs:
            self.add_group(full_path, name, parent_path, description)
        members = {"acme": (("alice", OWNER), ("bob", MAINTAINER), ("carol", DEVELOPER)),
                   "acme/platform": (("dave", DEVELOPER), ("erin", MAINTAINER)),
                   "acme/platform/infra": (("frank", DEVELOPER),),
                   "acme/data": (("grace", DEVELOPER), ("heidi", REPORTER)),
                   "other": (("ivan", OWNER), ("judy", DEVELOPER))}
        by_name = {u.username: u.id for u in self.world.users.values()}
        for full_path, entries in members.items():
            group = self.world.group_by_path[full_path]
            for username, level in entries:
                self.world.group_members[group.id][by_name[username]] = Member(
                    by_name[username], level, self.at(group.created_at, group.created_at + timedelta(days=60)),
                    by_name["alice"] if full_path.startswith("acme") else by_name["ivan"])
        group_labels = {"acme": (("priority::high", "#e24329"), ("priority::low", "#fca326")),
                        "acme/platform": (("platform", "#6699cc"),), "acme/platform/infra": (("infra", "#333333"),),
                        "acme/data": (("data-quality", "#009966"),), "other": (("external", "#aaaaaa"),)}
        for full_path, labels in group_labels.items():
            group = self.world.group_by_path[full_path]
            for name, color in labels:
                self.world.add_label(Label(self.world.ids.next("labels"), name, color, f"Group label {name}",
                                           group.created_at, group_id=group.id))

    def add_group(self, full_path: str, name: str, parent_path: str | None, description: str) -> Group:
        """Creates one group under an existing parent."""
        parent = self.world.group_by_path[parent_path] if parent_path else None
        created = self.at(EPOCH - timedelta(days=800), EPOCH - timedelta(days=700))
        return self.world.add_group(Group(
            id=self.world.ids.next("groups"), name=name, path=full_path.rsplit("/", 1)[-1], full_path=full_path,
            full_name=f"{parent.full_name} / {name}" if parent else name, description=description,
            parent_id=parent.id if parent else None, created_at=created,
        ))

    def share_project(self, project_path: str, group_path: str) -> None:
        """Shares a project into a group (it then appears in the group's `with_shared` listing)."""
        self.world.project_by_path[project_path].shared_with_group_ids.append(self.world.group_by_path[group_path].id)

    def seed_project(self, spec: _ProjectSpec) -> Project:
        """Creates one project and all of its rows."""
        world, rng = self.world, self.rng
        group = world.group_by_path[spec.group]
        created = self.at(EPOCH - timedelta(days=600), EPOCH - timedelta(days=400))
        project = world.add_project(Project(
            id=world.ids.next("projects"), name=spec.name, path=spec.path, description=spec.description,
            namespace_id=group.id, path_with_namespace=f"{group.full_path}/{spec.path}",
            name_with_namespace=f"{group.full_name} / {spec.name}", created_at=created, last_activity_at=created,
            updated_at=created, creator_id=self.humans()[0], archived=spec.archived,
            topics=sorted(rng.sample(["go", "python", "ruby", "terraform", "dbt", "ci"], 2)),
            star_count=rng.randint(0, 40), forks_count=rng.randint(0, 5), token_access_cap=spec.cap,
        ))
        world.ci_plans[project.id] = _PLANS[spec.plan]
        history_end = EPOCH - timedelta(days=200) if spec.archived else EPOCH - timedelta(hours=2)
        self.seed_members(project)
        self.seed_commits(project, rng.randint(*spec.commits), history_end - timedelta(days=120), history_end)
        self.seed_branches(project)
        self.seed_milestones(project)
        self.seed_labels(project)
        self.seed_tags_and_releases(project)
        self.seed_environments(project)
        self.seed_issues(project, rng.randint(*spec.issues), history_end)
        self.seed_merge_requests(project, rng.randint(*spec.merge_requests), history_end)
        self.seed_pipelines(project, spec, history_end)
        project.last_activity_at = max(project.last_activity_at, world.head(project.id).committed_date)
        project.updated_at = project.last_activity_at
        return project

    def seed_members(self, project: Project, count: int | None = None) -> None:
        """Adds direct project members, some not in any group."""
        rng = self.rng
        for uid in rng.sample(self.humans(), count if count is not None else rng.randint(2, 4)):
            self.world.project_members[project.id][uid] = Member(
                uid, rng.choice((REPORTER, DEVELOPER, DEVELOPER, MAINTAINER)),
                self.at(project.created_at, project.created_at + timedelta(days=90)), self.humans()[0],
                expires_at=EPOCH + timedelta(days=rng.randint(30, 300)) if rng.random() < 0.2 else None)

    def seed_commits(self, project: Project, count: int, start: datetime, end: datetime) -> None:
        """Creates a linear default-branch history of `count` commits between start and end."""
        moments = sorted(self.at(start, end) for _ in range(count))
        for position, moment in enumerate(moments):
            self.add_commit(project, moment, position)

    def add_commit(self, project: Project, moment: datetime, position: int | None = None,
                   title: str | None = None) -> Commit:
        """Appends one commit by a random human at `moment`."""
        rng, world = self.rng, self.world
        history = world.commits[project.id]
        position = len(history) if position is None else position
        author = world.users[rng.choice(self.humans())]
        word = rng.choice(_WORDS)
        title = title or rng.choice(_COMMIT_TITLES).format(w=word)
        message = title + ("\n" if rng.random() < 0.5 else f"\n\nDetails about {word}.\n\nChangelog: changed\n")
        return world.add_commit(Commit(
            sha=commit_sha(world.seed, project.id, position), project_id=project.id, position=position, title=title,
            message=message, author_name=author.name, author_email=author.email,
            authored_date=truncate_ms(moment - seconds(rng.uniform(0, 7200))), committed_date=truncate_ms(moment),
            tz_minutes=author.tz_minutes, parent_ids=[history[-1].sha] if history else [],
        ))

    def seed_branches(self, project: Project) -> None:
        """Creates the protected default branch and a few feature branches at older commits."""
        rng, world = self.rng, self.world
        history = world.commits[project.id]
        world.branches[project.id][project.default_branch] = Branch(project.id, project.default_branch,
                                                                    history[-1].sha, protected=True)
        for word in rng.sample(_WORDS, rng.randint(3, 5)):
            name = f"{rng.choice(('feature', 'fix', 'chore'))}/{word}"
            world.branches[project.id][name] = Branch(project.id, name, rng.choice(history[-12:]).sha)

    def seed_milestones(self, project: Project) -> None:
        """Creates two or three milestones, the first one closed."""
        rng, world = self.rng, self.world
        for iid in range(1, rng.randint(3, 4)):
            created = self.at(project.created_at, EPOCH - timedelta(days=90))
            world.add_milestone(Milestone(
                id=world.ids.next("milestones"), iid=iid, project_id=project.id, title=f"v1.{iid}",
                description=f"Release 1.{iid}", state="closed" if iid == 1 else "active", created_at=created,
                updated_at=self.at(created, EPOCH - timedelta(days=30)), start_date=created,
                due_date=EPOCH + timedelta(days=30 * (iid - 1) - 20),
            ))

    def seed_labels(self, project: Project) -> None:
        """Creates the used project labels plus the unused ones time travel may delete."""
        rng, world = self.rng, self.world
        used = [entry for entry in _PROJECT_LABELS if entry[0] not in UNUSED_LABELS]
        chosen = rng.sample(used, rng.randint(3, len(used))) + [e for e in _PROJECT_LABELS if e[0] in UNUSED_LABELS]
        for name, color, description in chosen:
            world.add_label(Label(world.ids.next("labels"), name, color, description,
                                  self.at(project.created_at, project.created_at + timedelta(days=30)),
                                  project_id=project.id, priority=rng.choice((None, None, 1, 2))))

    def usable_labels(self, project: Project) -> list[str]:
        """Label names an issue or MR of the project may carry (never the reserved unused ones)."""
        group_labels = [lb.name for g in self.world.project_ancestor_groups(project)
                        for lb in self.world.group_labels[g.id]]
        return [lb.name for lb in self.world.project_labels[project.id] if lb.name not in UNUSED_LABELS] + group_labels

    def seed_tags_and_releases(self, project: Project) -> None:
        """Creates three or four version tags; the two newest get releases."""
        rng, world = self.rng, self.world
        history = world.commits[project.id]
        count = rng.randint(3, 4)
        positions = sorted(rng.sample(range(len(history) // 3, len(history)), count))
        milestones = world.project_milestones[project.id]
        for n, position in enumerate(positions):
            c = history[position]
            name = f"v1.{n}.0"
            annotated = rng.random() < 0.5
            world.tags[project.id][name] = Tag(project.id, name, c.sha, f"Version 1.{n}.0" if annotated else None,
                                               c.committed_date + seconds(300) if annotated else None)
            if n >= count - 2:
                moment = c.committed_date + seconds(rng.uniform(600, 7200))
                world.releases[project.id][name] = Release(
                    project.id, name, f"Release {name}", f"## Changes\n\n- {c.title}\n", moment, moment,
                    rng.choice(self.humans()), c.sha,
                    [milestones[min(n, len(milestones) - 1)].id] if milestones else [])

    def seed_environments(self, project: Project) -> None:
        """Creates the environments the project's deploy jobs target (plus a stopped review app)."""
        world = self.world
        names = sorted({s.deploy_env for s in world.ci_plans[project.id] if s.deploy_env})
        for name in names:
            self.add_environment(project, name, "available", name)
        if "staging" in names:
            self.add_environment(project, "review/feature-dark-mode", "stopped", "development")

    def add_environment(self, project: Project, name: str, state: str, tier: str) -> Environment:
        """Creates one environment."""
        created = self.at(project.created_at, project.created_at + timedelta(days=60))
        slug = name.replace("/", "-")[:17] + ("-" + "%06x" % self.rng.getrandbits(24) if "/" in name else "")
        return self.world.add_environment(Environment(
            id=self.world.ids.next("environments"), project_id=project.id, name=name, slug=slug,
            external_url=f"https://{slug}.{project.path}.acme.example.com", state=state, tier=tier,
            created_at=created, updated_at=created))

    def seed_issues(self, project: Project, count: int, end: datetime) -> None:
        """Creates issues with comments and system notes; updated_at follows the newest note."""
        rng, world = self.rng, self.world
        labels = self.usable_labels(project)
        milestones = world.project_milestones[project.id]
        for iid in range(1, count + 1):
            created = self.at(end - timedelta(days=60), end - timedelta(days=1))
            word = rng.choice(_WORDS)
            issue = world.add_issue(Issue(
                id=world.ids.next("issues"), iid=iid, project_id=project.id,
                title=rng.choice(_ISSUE_TITLES).format(w=word, W=word.capitalize()),
                description=f"Steps to reproduce:\n\n1. Open {word}\n2. Observe the error", state="opened",
                created_at=created, updated_at=created, author_id=rng.choice(self.humans()),
                assignee_ids=rng.sample(self.humans(), rng.choice((0, 1, 1, 2))),
                labels=sorted(rng.sample(labels, rng.randint(0, min(2, len(labels))))),
                milestone_id=rng.choice(milestones).id if milestones and rng.random() < 0.5 else None,
                weight=rng.randint(0, 8) if rng.random() < 0.8 else None, confidential=rng.random() < 0.1,
                due_date=EPOCH + timedelta(days=rng.randint(-20, 40)) if rng.random() < 0.3 else None,
                upvotes=rng.randint(0, 5), time_estimate=rng.choice((0, 0, 3600, 7200, 14400)),
            ))
            self.seed_notes(project, "Issue", issue.id, iid, created, end)
            if rng.random() < 0.3:
                closed = self.at(created, end)
                issue.state, issue.closed_at, issue.closed_by_id = "closed", closed, rng.choice(self.humans())
                self.add_note(project, "Issue", issue.id, iid, issue.closed_by_id, "closed", closed, system=True)
            issue.updated_at = max([issue.updated_at] + [n.updated_at for n in world.iter_notes("Issue", issue.id)])

    def seed_notes(self, project: Project, kind: str, noteable_id: int, iid: int, start: datetime,
                   end: datetime) -> None:
        """Adds 0-5 comments and system notes to an issue or merge request."""
        rng = self.rng
        moments = sorted(self.at(start, end) for _ in range(rng.randint(0, 5)))
        for moment in moments:
            author = rng.choice(self.humans())
            if rng.random() < 0.35:
                body = rng.choice((f"assigned to @{self.world.users[author].username}", "changed the description",
                                   f"mentioned in commit {rng.choice(self.world.commits[project.id]).sha[:8]}",
                                   "added ~bug label", "changed milestone to %v1.2")
                                  if kind == "Issue" else
                                  ("approved this merge request", "added 1 commit\n\n<ul><li>abc12345 - Fix</li></ul>",
                                   f"requested review from @{self.world.users[author].username}",
                                   "marked this merge request as **ready**"))
                self.add_note(project, kind, noteable_id, iid, author, body, moment, system=True)
            else:
                body = rng.choice(("I can reproduce this on main.", "Fixed in the latest build, please verify.",
                                   "Could you add a test for this?", "LGTM :thumbsup:",
                                   "This also affects the staging environment.", "Let's discuss in the weekly sync."))
                edited = moment + seconds(rng.uniform(60, 3600)) if rng.random() < 0.2 else moment
                self.add_note(project, kind, noteable_id, iid, author, body, moment, updated=min(edited, end),
                              resolvable=kind == "MergeRequest" and rng.random() < 0.3)

    def add_note(self, project: Project, kind: str, noteable_id: int, iid: int, author: int, body: str,
                 moment: datetime, system: bool = False, updated: datetime | None = None,
                 resolvable: bool = False) -> Note:
        """Adds one note."""
        return self.world.add_note(Note(
            id=self.world.ids.next("notes"), project_id=project.id, noteable_type=kind, noteable_id=noteable_id,
            noteable_iid=iid, body=body, author_id=author, created_at=moment, updated_at=truncate_ms(updated or moment),
            system=system, resolvable=resolvable))

    def seed_merge_requests(self, project: Project, count: int, end: datetime) -> None:
        """Creates merge requests: open ones from live branches, merged ones at real commits, some closed."""
        rng, world = self.rng, self.world
        history = world.commits[project.id]
        branches = [b for b in world.branches[project.id].values() if b.name != project.default_branch]
        labels = self.usable_labels(project)
        for iid in range(1, count + 1):
            state = rng.choice(("opened", "merged", "merged", "closed"))
            created = self.at(end - timedelta(days=60), end - timedelta(days=2))
            word = rng.choice(_WORDS)
            if state == "opened" and branches:
                source = branches[(iid - 1) % len(branches)]
                source_branch, sha = source.name, source.commit_sha
            else:
                state = "merged" if state == "opened" else state
                source_branch, sha = f"feature/{word}-{iid}", rng.choice(history).sha
            mr = world.add_merge_request(MergeRequest(
                id=world.ids.next("merge_requests"), iid=iid, project_id=project.id,
                title=("Draft: " if state == "opened" and rng.random() < 0.2 else "") + f"Resolve \"{word}\" issues",
                description=f"Closes #{rng.randint(1, 8)}\n\nChanges the {word} handling.", state="opened",
                created_at=created, updated_at=created, author_id=rng.choice(self.humans()),
                source_branch=source_branch, target_branch=project.default_branch, sha=sha,
                assignee_ids=rng.sample(self.humans(), rng.choice((0, 1))),
                reviewer_ids=rng.sample(self.humans(), rng.choice((0, 1, 2))),
                labels=sorted(rng.sample(labels, rng.randint(0, min(2, len(labels))))),
                upvotes=rng.randint(0, 3),
            ))
            mr.draft = mr.title.startswith("Draft:")
            self.seed_notes(project, "MergeRequest", mr.id, iid, created, end)
            if state == "merged":
                candidates = [c for c in history if c.committed_date > created] or [history[-1]]
                merge_commit = rng.choice(candidates)
                mr.state, mr.merged_at, mr.merge_commit_sha = "merged", merge_commit.committed_date, merge_commit.sha
                mr.merged_by_id = rng.choice(self.humans())
                self.add_note(project, "MergeRequest", mr.id, iid, mr.merged_by_id, "merged", mr.merged_at, system=True)
            elif state == "closed":
                mr.state, mr.closed_at, mr.closed_by_id = "closed", self.at(created, end), rng.choice(self.humans())
                self.add_note(project, "MergeRequest", mr.id, iid, mr.closed_by_id, "closed", mr.closed_at, system=True)
            mr.updated_at = max([mr.updated_at] + [n.updated_at for n in world.iter_notes("MergeRequest", mr.id)])

    def seed_pipelines(self, project: Project, spec: _ProjectSpec, end: datetime) -> None:
        """Creates the project's pipelines over the last 30 days; the newest ones of active projects still run."""
        rng, world = self.rng, self.world
        factory = PipelineFactory(world, rng, plant=spec.plant)
        moments = sorted(self.at(end - timedelta(days=30), end - timedelta(hours=1)) for _ in range(spec.pipelines))
        history = world.commits[project.id]
        dates = [c.committed_date for c in history]
        branches = [b for b in world.branches[project.id].values() if b.name != project.default_branch]
        tags = list(world.tags[project.id].values())
        tail = (("running", "pending") if spec.plan in ("api", "worker") else ("running",)) if spec.active else ()
        for n, created in enumerate(moments):
            outcome = rng.choices(("success", "failed", "canceled"), (0.68, 0.24, 0.08))[0]
            if n >= len(moments) - len(tail):
                outcome = tail[n - (len(moments) - len(tail))]
                ago = rng.uniform(120, 480) if outcome == "running" else rng.uniform(10, 60)
                created = truncate_ms(world.now - seconds(ago))
            head = history[max(0, bisect.bisect_right(dates, created) - 1)]
            roll = rng.random()
            source = rng.choice(("push", "push", "web", "schedule"))
            ref, tag, sha = project.default_branch, False, head.sha
            if roll < 0.2 and branches:
                branch = rng.choice(branches)
                ref, sha, source = branch.name, branch.commit_sha, rng.choice(("push", "merge_request_event"))
            elif roll < 0.3 and tags:
                t = rng.choice(tags)
                ref, tag, sha, source = t.name, True, t.commit_sha, "push"
            parent = world.commit(project.id, sha).parent_ids
            factory.create(project, created_at=created, ref=ref, tag=tag, sha=sha,
                           before_sha=parent[0] if parent else "0" * 40, source=source,
                           user_id=rng.choice(self.humans()), outcome=outcome,
                           retry=outcome in ("success", "failed") and rng.random() < 0.25)

    def finalize_leaks_and_big_traces(self, big_in: tuple[str, ...], big_count: int = 1) -> None:
        """Makes one GitLab token leak in two jobs of different projects and gives a few jobs huge traces."""
        world = self.world
        leaking = [j for j in world.jobs.values() if j.leaks]
        first = next((j for j in leaking), None)
        second = next((j for j in leaking if first and j.project_id != first.project_id), None)
        if first and second:
            for job in (first, second):
                job.leaks = (("gitlab_pat", SHARED_VALUE_KEY),) + tuple(
                    leak for leak in job.leaks[1:] if leak[0] != "gitlab_pat")
        for path in big_in:
            project = world.project_by_path[path]
            done = [j for j in world.project_jobs[project.id] if j.status == "success" and not j.leaks]
            for job in done[:big_count]:
                job.trace_bytes = BIG_TRACE_BYTES + job.id % 400_000

    # ----- perf subgroup -----

    def seed_perf(self, jobs: int) -> None:
        """Adds `acme/perf` with four projects holding about `jobs` finished jobs in pipelines of five."""
        world, rng = self.world, self.rng
        self.add_group("acme/perf", "Perf", "acme", "Benchmark projects")
        per_pipeline = len(_PLANS["perf"])
        pipelines = max(1, -(-jobs // per_pipeline))
        projects = []
        for n in range(1, 5):
            spec = _ProjectSpec("acme/perf", f"perf-{n}", f"Perf {n}", "Benchmark project", "perf", 0)
            group = world.group_by_path[spec.group]
            created = self.at(EPOCH - timedelta(days=400), EPOCH - timedelta(days=300))
            project = world.add_project(Project(
                id=world.ids.next("projects"), name=spec.name, path=spec.path, description=spec.description,
                namespace_id=group.id, path_with_namespace=f"{group.full_path}/{spec.path}",
                name_with_namespace=f"{group.full_name} / {spec.name}", created_at=created,
                last_activity_at=created, updated_at=created, creator_id=self.humans()[0]))
            world.ci_plans[project.id] = _PLANS["perf"]
            self.seed_members(project, 1)
            self.seed_commits(project, 120, EPOCH - timedelta(days=61), EPOCH - timedelta(hours=2))
            world.branches[project.id]["main"] = Branch(project.id, "main", world.head(project.id).sha, protected=True)
            self.seed_labels(project)
            self.seed_issues(project, 3, EPOCH - timedelta(hours=2))
            project.last_activity_at = project.updated_at = world.head(project.id).committed_date
            projects.append(project)
        factory = PipelineFactory(world, rng, plant=True)
        start, end = EPOCH - timedelta(days=60), EPOCH - timedelta(hours=1)
        step = (end - start) / max(1, pipelines)
        for n in range(pipelines):
            project = projects[n % len(projects)]
            created = truncate_ms(start + step * n + seconds(rng.uniform(0, 30)))
            history = world.commits[project.id]
            dates = [c.committed_date for c in history]
            head = history[max(0, bisect.bisect_right(dates, created) - 1)]
            outcome = "failed" if rng.random() < 0.08 else "success"
            factory.create(project, created_at=created, ref="main", tag=False, sha=head.sha,
                           before_sha=head.parent_ids[0] if head.parent_ids else "0" * 40, source="push",
                           user_id=rng.choice(self.humans()), outcome=outcome, fail_last_stage=True)
        self.finalize_leaks_and_big_traces(tuple(p.path_with_namespace for p in projects[:2]))
