"""GitLab REST v4 JSON entities built from the world's records (https://docs.gitlab.com/api/rest/)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from gitlab_emulator.clock import iso_date, iso_ms, iso_offset
from gitlab_emulator.model import (
    Branch, Commit, Deployment, Environment, Group, Issue, Job, Label, Member, MergeRequest, Milestone, Note,
    Pipeline, Project, Release, Runner, Tag, User, World,
)

WEB_URL = "https://gitlab.example.com"
"""The instance's external URL used in `web_url` fields (fixed, so data does not depend on the port)."""

JSON = dict[str, Any]


def avatar_url(email: str) -> str:
    """Returns the Gravatar URL GitLab shows for an email."""
    return f"https://secure.gravatar.com/avatar/{hashlib.md5(email.encode()).hexdigest()}?s=80&d=identicon"


def user_basic(user: User) -> JSON:
    """UserBasic: the nested author/user/assignee object."""
    return {
        "id": user.id, "username": user.username, "name": user.name, "state": user.state, "locked": False,
        "avatar_url": avatar_url(user.email), "web_url": f"{WEB_URL}/{user.username}",
    }


def current_user(user: User) -> JSON:
    """The `GET /user` entity for the token's user."""
    return {
        **user_basic(user), "created_at": iso_ms(user.created_at), "bio": "", "location": "", "public_email": None,
        "skype": "", "linkedin": "", "twitter": "", "discord": "", "website_url": "", "organization": "Acme",
        "job_title": "", "pronouns": None, "bot": user.bot, "work_information": None, "local_time": None,
        "last_sign_in_at": iso_ms(user.created_at), "confirmed_at": iso_ms(user.created_at),
        "last_activity_on": None, "email": user.email, "theme_id": 1, "color_scheme_id": 1, "projects_limit": 100000,
        "current_sign_in_at": iso_ms(user.created_at), "identities": [], "can_create_group": True,
        "can_create_project": True, "two_factor_enabled": True, "external": False, "private_profile": False,
        "commit_email": user.email,
    }


def group(g: Group) -> JSON:
    """Group entity as `GET /groups/:id/subgroups` and `GET /groups/:id` return it."""
    return {
        "id": g.id, "web_url": f"{WEB_URL}/groups/{g.full_path}", "name": g.name, "path": g.path,
        "description": g.description, "visibility": g.visibility, "share_with_group_lock": False,
        "require_two_factor_authentication": False, "two_factor_grace_period": 48,
        "project_creation_level": "developer", "auto_devops_enabled": None, "subgroup_creation_level": "maintainer",
        "emails_disabled": False, "emails_enabled": True, "mentions_disabled": None, "lfs_enabled": True,
        "math_rendering_limits_enabled": True, "lock_math_rendering_limits_enabled": False,
        "default_branch": None, "default_branch_protection": 2,
        "default_branch_protection_defaults": {"allowed_to_push": [{"access_level": 40}], "allow_force_push": False,
                                               "allowed_to_merge": [{"access_level": 40}]},
        "avatar_url": None, "request_access_enabled": True, "full_name": g.full_name, "full_path": g.full_path,
        "created_at": iso_ms(g.created_at), "parent_id": g.parent_id, "organization_id": 1,
        "shared_runners_setting": "enabled", "max_artifacts_size": None, "ldap_cn": None, "ldap_access": None,
        "marked_for_deletion_on": None, "wiki_access_level": "enabled",
    }


def namespace(world: World, project: Project) -> JSON:
    """The nested `namespace` object of a project."""
    g = world.groups[project.namespace_id]
    return {
        "id": g.id, "name": g.name, "path": g.path, "kind": "group", "full_path": g.full_path,
        "parent_id": g.parent_id, "avatar_url": None, "web_url": f"{WEB_URL}/groups/{g.full_path}",
    }


def project_simple(world: World, p: Project) -> JSON:
    """The `simple=true` project entity."""
    web = f"{WEB_URL}/{p.path_with_namespace}"
    return {
        "id": p.id, "description": p.description, "name": p.name, "name_with_namespace": p.name_with_namespace,
        "path": p.path, "path_with_namespace": p.path_with_namespace, "created_at": iso_ms(p.created_at),
        "default_branch": p.default_branch, "tag_list": list(p.topics), "topics": list(p.topics),
        "ssh_url_to_repo": f"git@gitlab.example.com:{p.path_with_namespace}.git",
        "http_url_to_repo": f"{web}.git", "web_url": web, "readme_url": f"{web}/-/blob/{p.default_branch}/README.md",
        "forks_count": p.forks_count, "avatar_url": None, "star_count": p.star_count,
        "last_activity_at": iso_ms(p.last_activity_at), "namespace": namespace(world, p),
    }


def project(world: World, p: Project) -> JSON:
    """The full project entity as project listings return it."""
    api = f"{WEB_URL}/api/v4/projects/{p.id}"
    open_issues = sum(1 for i in world.project_issues[p.id].values() if i.state == "opened")
    shared = [
        {"group_id": g.id, "group_name": g.name, "group_full_path": g.full_path, "group_access_level": 30,
         "expires_at": None}
        for g in (world.groups[gid] for gid in p.shared_with_group_ids)
    ]
    return {
        **project_simple(world, p),
        "container_registry_image_prefix": f"registry.example.com/{p.path_with_namespace}",
        "_links": {
            "self": api, "issues": f"{api}/issues", "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches", "labels": f"{api}/labels", "events": f"{api}/events",
            "members": f"{api}/members", "cluster_agents": f"{api}/cluster_agents",
        },
        "packages_enabled": True, "empty_repo": False, "archived": p.archived, "visibility": p.visibility,
        "resolve_outdated_diff_discussions": False, "container_expiration_policy": None,
        "repository_object_format": "sha1", "issues_enabled": True, "merge_requests_enabled": True,
        "wiki_enabled": True, "jobs_enabled": True, "snippets_enabled": True, "container_registry_enabled": True,
        "service_desk_enabled": False, "can_create_merge_request_in": True, "issues_access_level": "enabled",
        "repository_access_level": "enabled", "merge_requests_access_level": "enabled",
        "forking_access_level": "enabled", "wiki_access_level": "enabled", "builds_access_level": "private",
        "snippets_access_level": "enabled", "pages_access_level": "private", "analytics_access_level": "enabled",
        "container_registry_access_level": "enabled", "security_and_compliance_access_level": "private",
        "releases_access_level": "enabled", "environments_access_level": "enabled",
        "emails_disabled": False, "emails_enabled": True, "shared_runners_enabled": True,
        "lfs_enabled": True, "creator_id": p.creator_id, "import_status": "none", "import_error": None,
        "open_issues_count": open_issues, "description_html": f"<p>{p.description}</p>",
        "updated_at": iso_ms(p.updated_at), "ci_default_git_depth": 20, "ci_config_path": None,
        "public_jobs": True, "shared_with_groups": shared, "only_allow_merge_if_pipeline_succeeds": False,
        "allow_merge_on_skipped_pipeline": None, "request_access_enabled": True,
        "only_allow_merge_if_all_discussions_are_resolved": False, "remove_source_branch_after_merge": True,
        "printing_merge_request_link_enabled": True, "merge_method": "merge", "squash_option": "default_off",
        "autoclose_referenced_issues": True, "keep_latest_artifact": True, "marked_for_deletion_at": None,
    }


def project_permissions(access_level: int) -> JSON:
    """The `permissions` object `GET /projects/:id` adds for the token's user."""
    return {"project_access": {"access_level": access_level, "notification_level": 3}, "group_access": None}


def member(world: World, m: Member) -> JSON:
    """A member entity (group or project)."""
    user = world.users[m.user_id]
    return {
        **user_basic(user), "access_level": m.access_level, "created_at": iso_ms(m.created_at),
        "created_by": user_basic(world.users[m.created_by_id]), "expires_at": iso_date(m.expires_at),
        "membership_state": "active",
    }


def commit(world: World, c: Commit) -> JSON:
    """A commit entity; dates carry the author's UTC offset, as GitLab prints them."""
    p = world.projects[c.project_id]
    committed = iso_offset(c.committed_date, c.tz_minutes)
    return {
        "id": c.sha, "short_id": c.sha[:8], "created_at": committed, "parent_ids": list(c.parent_ids),
        "title": c.title, "message": c.message, "author_name": c.author_name, "author_email": c.author_email,
        "authored_date": iso_offset(c.authored_date, c.tz_minutes), "committer_name": c.author_name,
        "committer_email": c.author_email, "committed_date": committed, "trailers": {}, "extended_trailers": {},
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/commit/{c.sha}",
    }


def pipeline_basic(world: World, pl: Pipeline) -> JSON:
    """PipelineBasic: pipeline listings and the nested `pipeline` of a job."""
    p = world.projects[pl.project_id]
    return {
        "id": pl.id, "iid": pl.iid, "project_id": pl.project_id, "sha": pl.sha, "ref": pl.ref, "status": pl.status,
        "source": pl.source, "created_at": iso_ms(pl.created_at), "updated_at": iso_ms(pl.updated_at),
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/pipelines/{pl.id}",
    }


def pipeline(world: World, pl: Pipeline) -> JSON:
    """The single-pipeline entity (`GET /projects/:id/pipelines/:pipeline_id`)."""
    duration = None
    if pl.started_at and pl.finished_at:
        duration = int((pl.finished_at - pl.started_at).total_seconds())
    queued = (pl.started_at - pl.created_at).total_seconds() if pl.started_at else None
    commit_row = world.commit_index.get((pl.project_id, pl.sha))
    p = world.projects[pl.project_id]
    return {
        **pipeline_basic(world, pl), "name": pl.name, "before_sha": pl.before_sha, "tag": pl.tag,
        "yaml_errors": None, "user": user_basic(world.users[pl.user_id]), "started_at": iso_ms(pl.started_at),
        "finished_at": iso_ms(pl.finished_at),
        "committed_at": iso_offset(commit_row.committed_date, commit_row.tz_minutes) if commit_row else None,
        "duration": duration, "queued_duration": round(queued, 3) if queued is not None else None,
        "coverage": None, "archived": False,
        "detailed_status": {
            "icon": f"status_{pl.status}", "text": pl.status.capitalize(), "label": _status_label(pl.status),
            "group": pl.status, "tooltip": _status_label(pl.status), "has_details": True,
            "details_path": f"/{p.path_with_namespace}/-/pipelines/{pl.id}", "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{pl.status}.png",
        },
    }


def _status_label(status: str) -> str:
    """The human label GitLab shows for a CI status."""
    return {"success": "passed", "failed": "failed", "running": "running", "pending": "pending",
            "canceled": "canceled", "skipped": "skipped", "created": "created"}.get(status, status)


def runner(r: Runner) -> JSON:
    """The nested `runner` object of a job."""
    return {
        "id": r.id, "description": r.description, "ip_address": None, "active": True, "paused": False,
        "is_shared": r.is_shared, "runner_type": r.runner_type, "name": "gitlab-runner", "online": True,
        "status": "online",
    }


def runner_manager(r: Runner) -> JSON:
    """The nested `runner_manager` object (added to jobs by schema drift)."""
    return {
        "id": r.id * 10, "system_id": r.system_id, "version": r.version, "revision": r.revision,
        "platform": "linux", "architecture": "amd64", "created_at": None, "contacted_at": None,
        "ip_address": r.ip_address, "status": "online",
    }


def job(world: World, j: Job) -> JSON:
    """The job entity as job listings and `GET /projects/:id/jobs/:job_id` return it."""
    pl = world.pipelines[j.pipeline_id]
    p = world.projects[j.project_id]
    duration = None
    if j.started_at is not None:
        end = j.finished_at or world.now
        duration = round((end - j.started_at).total_seconds(), 3)
    has_artifacts = j.artifacts and j.erased_at is None and j.status in ("success", "failed")
    artifacts: list[JSON] = []
    if has_artifacts:
        artifacts = [
            {"file_type": "archive", "size": 1000 + j.id % 9000, "filename": "artifacts.zip", "file_format": "zip"},
            {"file_type": "metadata", "size": 186 + j.id % 100, "filename": "metadata.gz", "file_format": "gzip"},
        ]
    if j.erased_at is None and j.started_at is not None and j.finished_at is not None:
        artifacts.append({"file_type": "trace", "size": j.trace_bytes, "filename": "job.log", "file_format": None})
    body: JSON = {
        "id": j.id, "status": j.status, "stage": j.stage, "name": j.name, "ref": pl.ref, "tag": pl.tag,
        "coverage": j.coverage, "allow_failure": j.allow_failure, "created_at": iso_ms(j.created_at),
        "started_at": iso_ms(j.started_at), "finished_at": iso_ms(j.finished_at), "erased_at": iso_ms(j.erased_at),
        "duration": duration, "queued_duration": j.queued_duration, "user": user_basic(world.users[j.user_id]),
        "commit": commit(world, world.commit(pl.project_id, pl.sha)), "pipeline": pipeline_basic(world, pl),
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/jobs/{j.id}", "project": {"ci_job_token_scope_enabled": False},
    }
    if j.status == "failed":
        body["failure_reason"] = j.failure_reason or "script_failure"
    if has_artifacts:
        body["artifacts_file"] = {"filename": "artifacts.zip", "size": 1000 + j.id % 9000}
    r = world.runners.get(j.runner_id) if j.runner_id else None
    body["artifacts"] = artifacts
    body["runner"] = runner(r) if r else None
    if world.schema_drift:
        body["runner_manager"] = runner_manager(r) if r else None
    body["artifacts_expire_at"] = iso_ms(_artifacts_expiry(j)) if has_artifacts else None
    body["archived"] = False
    body["tag_list"] = sorted(j.tag_list)
    return body


def _artifacts_expiry(j: Job) -> datetime | None:
    """Artifacts expire 30 days after the job finished."""
    return j.finished_at + timedelta(days=30) if j.finished_at else None


def milestone(world: World, m: Milestone) -> JSON:
    """A project milestone entity."""
    p = world.projects[m.project_id]
    expired = bool(m.due_date and m.due_date < world.now)
    return {
        "id": m.id, "iid": m.iid, "project_id": m.project_id, "title": m.title, "description": m.description,
        "state": m.state, "created_at": iso_ms(m.created_at), "updated_at": iso_ms(m.updated_at),
        "due_date": iso_date(m.due_date), "start_date": iso_date(m.start_date), "expired": expired,
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/milestones/{m.iid}",
    }


def _milestone_of(world: World, milestone_id: int | None) -> JSON | None:
    """The nested `milestone` of an issue or merge request, or None."""
    found = world.milestones.get(milestone_id) if milestone_id is not None else None
    return milestone(world, found) if found else None


def _time_stats(estimate: int, spent: int) -> JSON:
    """The `time_stats` object of issues and merge requests."""
    def human(seconds: int) -> str | None:
        if not seconds:
            return None
        hours, rest = divmod(seconds // 60, 60)
        return f"{hours}h {rest}m" if rest else f"{hours}h"

    return {"time_estimate": estimate, "total_time_spent": spent, "human_time_estimate": human(estimate),
            "human_total_time_spent": human(spent)}


def _user_notes_count(world: World, kind: str, noteable_id: int) -> int:
    """Counts the non-system notes of an issue or merge request."""
    return sum(1 for n in world.iter_notes(kind, noteable_id) if not n.system)


def _references(p: Project, sigil: str, iid: int) -> JSON:
    """The `references` object: short, relative and full."""
    return {"short": f"{sigil}{iid}", "relative": f"{sigil}{iid}", "full": f"{p.path_with_namespace}{sigil}{iid}"}


def issue(world: World, i: Issue) -> JSON:
    """The issue entity."""
    p = world.projects[i.project_id]
    api = f"{WEB_URL}/api/v4/projects/{p.id}"
    assignees = [user_basic(world.users[uid]) for uid in i.assignee_ids]
    weight: int | str | None = i.weight
    if world.schema_drift and weight is not None:
        weight = str(weight)
    body: JSON = {
        "id": i.id, "iid": i.iid, "project_id": i.project_id, "title": i.title, "description": i.description,
        "state": i.state, "created_at": iso_ms(i.created_at), "updated_at": iso_ms(i.updated_at),
        "closed_at": iso_ms(i.closed_at),
        "closed_by": user_basic(world.users[i.closed_by_id]) if i.closed_by_id else None,
        "labels": list(i.labels),
        "milestone": _milestone_of(world, i.milestone_id),
        "assignees": assignees, "author": user_basic(world.users[i.author_id]), "type": "ISSUE",
        "assignee": assignees[0] if assignees else None,
        "user_notes_count": _user_notes_count(world, "Issue", i.id), "merge_requests_count": 0,
        "upvotes": i.upvotes, "downvotes": i.downvotes, "due_date": iso_date(i.due_date),
        "confidential": i.confidential, "discussion_locked": i.discussion_locked, "issue_type": "issue",
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/issues/{i.iid}",
        "time_stats": _time_stats(i.time_estimate, i.total_time_spent),
        "task_completion_status": {"count": 0, "completed_count": 0}, "weight": weight,
        "blocking_issues_count": 0, "has_tasks": True, "task_status": "0 of 0 checklist items completed",
        "_links": {"self": f"{api}/issues/{i.iid}", "notes": f"{api}/issues/{i.iid}/notes",
                   "award_emoji": f"{api}/issues/{i.iid}/award_emoji", "project": api,
                   "closed_as_duplicate_of": None},
        "references": _references(p, "#", i.iid), "severity": "UNKNOWN", "moved_to_id": None,
        "imported": False, "service_desk_reply_to": None, "epic_iid": None, "epic": None, "iteration": None,
        "health_status": None,
    }
    if world.schema_drift:
        body["imported_from"] = "none"
    return body


def merge_request(world: World, mr: MergeRequest) -> JSON:
    """The merge request entity as listings return it."""
    p = world.projects[mr.project_id]
    assignees = [user_basic(world.users[uid]) for uid in mr.assignee_ids]
    merged_by = user_basic(world.users[mr.merged_by_id]) if mr.merged_by_id else None
    body: JSON = {
        "id": mr.id, "iid": mr.iid, "project_id": mr.project_id, "title": mr.title, "description": mr.description,
        "state": mr.state, "created_at": iso_ms(mr.created_at), "updated_at": iso_ms(mr.updated_at),
        "merged_by": merged_by, "merge_user": merged_by, "merged_at": iso_ms(mr.merged_at),
        "closed_by": user_basic(world.users[mr.closed_by_id]) if mr.closed_by_id else None,
        "closed_at": iso_ms(mr.closed_at), "target_branch": mr.target_branch, "source_branch": mr.source_branch,
        "user_notes_count": _user_notes_count(world, "MergeRequest", mr.id), "upvotes": mr.upvotes,
        "downvotes": mr.downvotes, "author": user_basic(world.users[mr.author_id]), "assignees": assignees,
        "assignee": assignees[0] if assignees else None,
        "reviewers": [user_basic(world.users[uid]) for uid in mr.reviewer_ids],
        "source_project_id": mr.project_id, "target_project_id": mr.project_id, "labels": list(mr.labels),
        "draft": mr.draft, "imported": False, "work_in_progress": mr.draft,
        "milestone": _milestone_of(world, mr.milestone_id),
        "merge_when_pipeline_succeeds": False, "merge_status": "can_be_merged" if mr.state == "opened" else "unchecked",
        "detailed_merge_status": "mergeable" if mr.state == "opened" else "not_open", "merge_after": None,
        "sha": mr.sha, "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": None,
        "discussion_locked": None, "should_remove_source_branch": None, "force_remove_source_branch": True,
        "prepared_at": iso_ms(mr.created_at), "reference": f"!{mr.iid}", "references": _references(p, "!", mr.iid),
        "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/merge_requests/{mr.iid}",
        "time_stats": _time_stats(0, 0), "squash": False, "squash_on_merge": False,
        "task_completion_status": {"count": 0, "completed_count": 0}, "has_conflicts": False,
        "blocking_discussions_resolved": True, "approvals_before_merge": None,
    }
    if world.schema_drift:
        body["imported_from"] = "none"
    return body


def note(world: World, n: Note) -> JSON:
    """A note (comment or system note) on an issue or merge request."""
    return {
        "id": n.id, "type": "DiffNote" if n.resolvable else None, "body": n.body, "attachment": None,
        "author": user_basic(world.users[n.author_id]), "created_at": iso_ms(n.created_at),
        "updated_at": iso_ms(n.updated_at), "system": n.system, "noteable_id": n.noteable_id,
        "noteable_type": n.noteable_type, "project_id": n.project_id, "resolvable": n.resolvable,
        "resolved": n.resolved if n.resolvable else None, "resolved_by": None, "resolved_at": None,
        "confidential": n.internal, "internal": n.internal, "imported": False, "imported_from": "none",
        "noteable_iid": n.noteable_iid, "commands_changes": {},
    }


def branch(world: World, b: Branch) -> JSON:
    """A repository branch."""
    p = world.projects[b.project_id]
    return {
        "name": b.name, "commit": commit(world, world.commit(b.project_id, b.commit_sha)), "merged": b.merged,
        "protected": b.protected, "developers_can_push": False, "developers_can_merge": False, "can_push": True,
        "default": b.name == p.default_branch, "web_url": f"{WEB_URL}/{p.path_with_namespace}/-/tree/{b.name}",
    }


def tag(world: World, t: Tag) -> JSON:
    """A repository tag, with its release summary when one exists."""
    release = world.releases[t.project_id].get(t.name)
    return {
        "name": t.name, "message": t.message, "target": t.commit_sha,
        "commit": commit(world, world.commit(t.project_id, t.commit_sha)),
        "release": {"tag_name": release.tag_name, "description": release.description} if release else None,
        "protected": t.name.startswith("v"), "created_at": iso_ms(t.created_at),
    }


def release(world: World, r: Release) -> JSON:
    """A release entity."""
    p = world.projects[r.project_id]
    web = f"{WEB_URL}/{p.path_with_namespace}"
    return {
        "tag_name": r.tag_name, "description": r.description, "name": r.name, "created_at": iso_ms(r.created_at),
        "released_at": iso_ms(r.released_at), "upcoming_release": r.released_at > world.now,
        "historical_release": False, "author": user_basic(world.users[r.author_id]),
        "commit": commit(world, world.commit(r.project_id, r.commit_sha)),
        "milestones": [milestone(world, world.milestones[m]) for m in r.milestone_ids if m in world.milestones],
        "commit_path": f"/{p.path_with_namespace}/-/commit/{r.commit_sha}",
        "tag_path": f"/{p.path_with_namespace}/-/tags/{r.tag_name}",
        "assets": {
            "count": 4,
            "sources": [{"format": fmt, "url": f"{web}/-/archive/{r.tag_name}/{p.path}-{r.tag_name}.{fmt}"}
                        for fmt in ("zip", "tar.gz", "tar.bz2", "tar")],
            "links": [],
        },
        "evidences": [],
        "_links": {
            **{f"{state}_{kind}_url": f"{web}/-/{kind}?release_tag={r.tag_name}&scope=all&state={state}"
               for state, kind in (("closed", "issues"), ("closed", "merge_requests"), ("merged", "merge_requests"),
                                   ("opened", "issues"), ("opened", "merge_requests"))},
            "edit_url": f"{web}/-/releases/{r.tag_name}/edit", "self": f"{web}/-/releases/{r.tag_name}",
        },
    }


def label(world: World, lb: Label, with_counts: bool = False) -> JSON:
    """A label entity; usage counts only `with_counts` (as `?with_counts=true`). Group labels are not project labels."""
    body: JSON = {
        "id": lb.id, "name": lb.name, "description": lb.description,
        "description_html": f"<p>{lb.description}</p>" if lb.description else "",
        "text_color": "#FFFFFF" if lb.color.lower() not in ("#f0ad4e", "#ffecdb", "#cccccc") else "#1F1E24",
        "color": lb.color, "archived": False, "subscribed": False, "priority": lb.priority,
        "is_project_label": lb.project_id is not None,
    }
    if with_counts:
        issues = world.project_issues[lb.project_id].values() if lb.project_id is not None else ()
        mrs = world.project_merge_requests[lb.project_id].values() if lb.project_id is not None else ()
        body["open_issues_count"] = sum(1 for i in issues if i.state == "opened" and lb.name in i.labels)
        body["closed_issues_count"] = sum(1 for i in issues if i.state == "closed" and lb.name in i.labels)
        body["open_merge_requests_count"] = sum(1 for m in mrs if m.state == "opened" and lb.name in m.labels)
    return body


def environment(world: World, e: Environment) -> JSON:
    """An environment entity as `GET /projects/:id/environments` lists it."""
    return {
        "id": e.id, "name": e.name, "slug": e.slug, "description": None, "external_url": e.external_url,
        "state": e.state, "tier": e.tier, "created_at": iso_ms(e.created_at), "updated_at": iso_ms(e.updated_at),
        "auto_stop_at": None, "kubernetes_namespace": None, "flux_resource_path": None, "auto_stop_setting": "always",
    }


def deployment(world: World, d: Deployment) -> JSON:
    """A deployment entity with its environment and deployable job."""
    j = world.jobs[d.job_id]
    deployable = job(world, j)
    deployable.pop("project", None)
    return {
        "id": d.id, "iid": d.iid, "ref": d.ref, "sha": d.sha, "created_at": iso_ms(d.created_at),
        "updated_at": iso_ms(d.updated_at), "status": d.status, "user": user_basic(world.users[d.user_id]),
        "environment": environment(world, world.environments[d.environment_id]), "deployable": deployable,
    }
