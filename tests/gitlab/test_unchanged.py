"""What a rerun sends to the destination: nothing when nothing changed in GitLab, and what changed when it did.

`groups` and `projects` (merged) and the lists GitLab only returns whole (replaced) have no cursor: the
source compares them with what it loaded last (gitlab/unchanged.py, gitlab/whole_lists.py). End to end
through the CLI against the emulator; the world is changed the way GitLab's would be, at the server.
"""

import dlt

from gitlab_emulator import GitLabEmulator
from gitlab_emulator.truth import Scope, scope_projects
from tests.utils import DATASET, TABLE_KEYS, assert_children_carry_parent_keys, assert_load_equals_truth

# Written out, not taken from the code under test: the tables a run reads whole every time.
WITHOUT_CURSOR = ("groups", "projects", "group_members", "project_members", "environments", "milestones", "labels",
                  "branches", "tags", "releases")


def _load_ids(workspace):
    return sorted(load_id for (load_id,) in workspace.query(f"select load_id from {DATASET}._dlt_loads"))


def _loaded_by(workspace, table):
    return {load_id for (load_id,) in workspace.query(f"select distinct _dlt_load_id from {DATASET}.{table}")}


def _counts(workspace):
    return {table: workspace.query(f"select count(*) from {DATASET}.{table}")[0][0] for table in TABLE_KEYS}


def _last_trace(workspace):
    return dlt.attach("gitlab_pipeline", pipelines_dir=str(workspace.data_dir / "pipelines")).last_trace


def _acme_project_with_lists(emulator):
    """A project of group acme with labels, members and a branch that can be deleted."""
    world = emulator.world
    for project in scope_projects(world, Scope(("acme",), True, False, ())):
        unprotected = sorted(name for name, branch in world.branches[project.id].items() if not branch.protected)
        if world.project_labels[project.id] and world.project_members[project.id] and unprotected:
            return project, unprotected[0]
    raise AssertionError("the default world has no such project")


def test_a_rerun_with_nothing_new_loads_nothing(emulator, any_workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert any_workspace.run(*args).returncode == 0
    loads, counts = _load_ids(any_workspace), _counts(any_workspace)
    emulator.reset_counters()

    result = any_workspace.run(*args)
    assert result.returncode == 0, result.output

    assert _load_ids(any_workspace) == loads, "the rerun left a load in the destination"
    assert _counts(any_workspace) == counts
    trace = _last_trace(any_workspace)
    assert trace.last_normalize_info.row_counts == {}
    assert trace.last_load_info.loads_ids == []
    # every list was still read: a change would have been seen
    assert emulator.request_count(r"/api/v4/projects/\d+/repository/branches$") > 0


def test_a_rerun_loads_the_changed_rows_and_lists_and_leaves_the_rest(emulator, any_workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert any_workspace.run(*args).returncode == 0
    (first_load,) = _load_ids(any_workspace)
    project, branch = _acme_project_with_lists(emulator)
    label = emulator.world.project_labels[project.id][0]
    member = min(emulator.world.project_members[project.id].values(), key=lambda m: m.user_id)
    project.description = "Described again"
    label.color = "#0000fe"
    member.access_level = 50 if member.access_level != 50 else 40
    del emulator.world.branches[project.id][branch]
    emulator.world.touch()

    result = any_workspace.run(*args)
    assert result.returncode == 0, result.output
    assert_load_equals_truth(any_workspace, emulator)
    assert_children_carry_parent_keys(any_workspace)
    (second_load,) = set(_load_ids(any_workspace)) - {first_load}

    def one(sql):
        return any_workspace.query(f"select {sql}")[0][0]

    assert one(f"description from {DATASET}.projects where id = {project.id}") == "Described again"
    assert one(f"color from {DATASET}.labels where id = {label.id}") == "#0000fe"
    assert one(f"access_level from {DATASET}.project_members where project_id = {project.id}"
               f" and id = {member.user_id}") == member.access_level
    assert one(f"count(*) from {DATASET}.branches where project_id = {project.id} and name = '{branch}'") == 0
    # the changed project alone was merged again; the changed lists were replaced whole, the others kept
    assert any_workspace.query(f"select id from {DATASET}.projects where _dlt_load_id = '{second_load}'") == [
        (project.id,)
    ]
    changed = {"projects", "labels", "project_members", "branches"}
    for table in set(WITHOUT_CURSOR) - {"projects"}:
        assert _loaded_by(any_workspace, table) == ({second_load} if table in changed else {first_load}), table


def test_a_list_emptied_in_gitlab_empties_its_table(emulator, workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme"]
    assert workspace.run(*args).returncode == 0
    assert workspace.query(f"select count(*) from {DATASET}.labels")[0][0] > 0
    for labels in emulator.world.project_labels.values():
        for label in list(labels):
            emulator.world.remove_label(label)
    emulator.world.touch()

    assert workspace.run(*args).returncode == 0
    assert workspace.query(f"select count(*) from {DATASET}.labels")[0][0] == 0
    assert_load_equals_truth(workspace, emulator)


def test_a_rerun_asks_its_lists_at_once(workspace):
    """Each answer takes 0.3 s: requests sent one after another would never overlap."""
    with GitLabEmulator(latency_seconds=0.3) as emulator:
        args = ["--base-url", emulator.base_url, "--group", "acme"]
        assert workspace.run(*args).returncode == 0
        emulator.reset_counters()
        assert workspace.run(*args).returncode == 0
        assert emulator.peak_in_flight >= 16
