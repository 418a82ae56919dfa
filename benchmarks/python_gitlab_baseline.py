"""The baseline most users have today: python-gitlab, sequential: list a project's jobs, fetch each trace.

Run by `benchmarks/run.py` as its own process, from this folder, so that `import gitlab` is python-gitlab
(the repository's own `gitlab` package would shadow it). Prints one JSON line: {"jobs": n, "seconds": s}.
"""

import argparse
import json
import sys
import time

import gitlab  # python-gitlab

FINISHED = ("success", "failed", "canceled")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--group", default="acme/perf")
    parser.add_argument("--jobs", type=int, default=300, help="finished jobs to fetch the trace of")
    args = parser.parse_args()

    started = time.perf_counter()
    client = gitlab.Gitlab(args.url, private_token=args.token, per_page=100)
    fetched = size = 0
    for group_project in client.groups.get(args.group).projects.list(iterator=True):
        project = client.projects.get(group_project.id, lazy=True)
        for job in project.jobs.list(iterator=True):
            if job.status not in FINISHED:
                continue
            size += len(job.trace())
            fetched += 1
            if fetched >= args.jobs:
                break
        if fetched >= args.jobs:
            break
    print(json.dumps({"jobs": fetched, "seconds": time.perf_counter() - started, "bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
