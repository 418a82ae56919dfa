"""Secrets planted in job traces: kinds, deterministic values, the lines that print them, look-alikes."""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

SECRET_KINDS = (
    "gitlab_pat",
    "gitlab_deploy_token",
    "gitlab_runner_token",
    "gitlab_pipeline_trigger_token",
    "aws_access_key_id",
    "private_key",
    "password_assignment",
)
"""Every kind a trace can leak; `PlantedSecret.kind` is one of these."""

SHARED_VALUE_KEY = "shared-pat"
"""The value key of the one GitLab token that leaks in two different jobs."""

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "_!%"

LOOKALIKE_LINES = (
    "Hint: personal access tokens start with glpat- and are shown only once after creation.",
    "Checking password policy for the service account... ok",
    "WARNING: DB_PASSWORD is not set, falling back to peer authentication",
    "Logging in to registry.example.com as deploy (password: [MASKED])",
    "Reminder: AKIA keys must be rotated every 90 days, see the runbook.",
    "Runner authentication tokens (glrt-) are managed under Settings > CI/CD > Runners.",
    "No BEGIN RSA PRIVATE KEY block found in $SSH_PRIVATE_KEY, skipping ssh-add",
    "$ echo \"password reset mail sent\"",
)
"""Lines that look like leaks to a naive scanner but carry no secret; never recorded."""


@dataclass(frozen=True, slots=True)
class PlantedSecret:
    """A secret printed in a job trace.

    `line_number` is 1-based over the trace split on "\\n". `value` is the secret as printed: the
    token itself, the password alone for `password_assignment`, and the whole BEGIN..END block
    (joined with "\\n") for `private_key`, whose line_number is the BEGIN line.
    """

    job_id: int
    project_id: int
    pipeline_id: int
    kind: str
    value: str
    line_number: int


def secret_value(seed: int, kind: str, value_key: str) -> str:
    """Derives a secret's value from the world seed and a value key, without storing it.

    Args:
        seed (int): The world seed.
        kind (str): One of SECRET_KINDS.
        value_key (str): Usually "<job_id>:<n>"; SHARED_VALUE_KEY for the token that leaks twice.
    Returns:
        str: The secret as it appears in the trace.
    """
    rng = random.Random(f"{seed}:secret:{kind}:{value_key}")
    if kind == "gitlab_pat":
        return "glpat-" + "".join(rng.choices(_TOKEN_ALPHABET, k=20))
    if kind == "gitlab_deploy_token":
        return "gldt-" + "".join(rng.choices(_TOKEN_ALPHABET, k=20))
    if kind == "gitlab_runner_token":
        return "glrt-" + "".join(rng.choices(_TOKEN_ALPHABET, k=20))
    if kind == "gitlab_pipeline_trigger_token":
        return "glptt-" + "".join(rng.choices("0123456789abcdef", k=40))
    if kind == "aws_access_key_id":
        return "AKIA" + "".join(rng.choices(_UPPER_ALNUM, k=16))
    if kind == "private_key":
        return "\n".join(_private_key_block(rng))
    if kind == "password_assignment":
        return "".join(rng.choices(_PASSWORD_ALPHABET, k=18))
    raise ValueError(f"unknown secret kind {kind!r}; valid kinds: {', '.join(SECRET_KINDS)}")


def _private_key_block(rng: random.Random) -> list[str]:
    """Builds a PEM-looking RSA private key block from random bytes."""
    body = base64.b64encode(rng.randbytes(rng.randint(380, 460))).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"]


def secret_lines(kind: str, value: str, project_id: int, rng: random.Random) -> tuple[list[str], int]:
    """Returns the trace lines that print a secret and the index of the line that carries it.

    Args:
        kind (str): One of SECRET_KINDS.
        value (str): The value from `secret_value`.
        project_id (int): Used in realistic URLs.
        rng (random.Random): The trace's generator, to vary the wording.
    Returns:
        tuple[list[str], int]: The lines (no newlines) and the index of the secret's (first) line.
    """
    green, reset = "\x1b[32;1m", "\x1b[0;m"
    if kind == "gitlab_pat":
        line = rng.choice((
            f"{green}$ git remote set-url origin https://oauth2:{value}@gitlab.example.com/acme/tools.git{reset}",
            f"Authenticating to the API with token {value}",
            f"export GITLAB_API_TOKEN={value}",
        ))
        return [line], 0
    if kind == "gitlab_deploy_token":
        return [f"{green}$ docker login -u gitlab+deploy-token-17 -p {value} registry.example.com{reset}",
                "Login Succeeded"], 0
    if kind == "gitlab_runner_token":
        return [f"{green}$ gitlab-runner register --non-interactive --url https://gitlab.example.com "
                f"--token {value} --executor docker{reset}",
                "Runner registered successfully."], 0
    if kind == "gitlab_pipeline_trigger_token":
        return [f"{green}$ curl --fail -X POST -F token={value} -F ref=main "
                f"https://gitlab.example.com/api/v4/projects/{project_id}/trigger/pipeline{reset}",
                '{"id":4711,"status":"created"}'], 0
    if kind == "aws_access_key_id":
        line = rng.choice((f"AWS_ACCESS_KEY_ID={value}", f"Using AWS access key {value} for s3://acme-artifacts"))
        return [line], 0
    if kind == "private_key":
        return [f"{green}$ cat deploy/id_rsa{reset}", *value.split("\n")], 1
    if kind == "password_assignment":
        line = rng.choice((
            f"{green}$ export DB_PASSWORD={value}{reset}",
            f"password={value}",
            f"{green}$ export REDIS_PASSWORD={value}{reset}",
        ))
        return [line], 0
    raise ValueError(f"unknown secret kind {kind!r}; valid kinds: {', '.join(SECRET_KINDS)}")
