"""The secret scanner as pure functions: detectors, redaction, PEM blocks across blocks, fingerprints, the key."""

import hashlib
import hmac
import os
import random
import stat

import pytest
from dlt.common.configuration.providers import SecretsTomlProvider

from gitlab.errors import GitLabSourceError
from gitlab.job_logs.detectors import build_detectors
from gitlab.job_logs.fingerprints import Fingerprinter, save_new_fingerprint_key
from gitlab.job_logs.redaction import preview, strip_ansi
from gitlab.job_logs.scanner import GitLabSecretScanner
from gitlab_emulator import GitLabEmulator, seed_world
from gitlab_emulator.leaks import LOOKALIKE_LINES

KEY = "unit-test-fingerprint-key"
GREEN, RESET = "\x1b[32;1m", "\x1b[0;m"
PAT = "glpat-" + "Ab3xQ9_kLm2Np4Rs6Tu8"
PEM = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
    "-----END RSA PRIVATE KEY-----",
]


def _scan(text: str, key: str = KEY, patterns=None, blocks=None):
    """Scans `text` (split into blocks of whole lines at `blocks` line indexes) as the reader does."""
    scanner = GitLabSecretScanner(build_detectors(patterns), Fingerprinter(key))
    lines = text.split("\n")
    cuts = [0, *(blocks or []), len(lines)]
    raw_out, plain_out, first = [], [], 1
    for start, stop in zip(cuts, cuts[1:], strict=False):
        block = "\n".join(lines[start:stop]) + ("\n" if stop < len(lines) else "")
        raw, plain = scanner.scan(block, strip_ansi(block), first)
        raw_out.append(raw)
        plain_out.append(plain)
        first += block.count("\n")
    scanner.finish()
    return scanner, "".join(raw_out), "".join(plain_out)


def _hmac(value: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize(
    "token, kind",
    [
        (PAT, "gitlab_pat"),
        ("gldt-" + "x" * 8 + "Y" * 12, "gitlab_deploy_token"),
        ("glrt-" + "t1_" + "a" * 17, "gitlab_runner_token"),
        ("glrtr-" + "b" * 20, "gitlab_runner_registration_token"),
        ("GR1348941" + "c" * 20, "gitlab_runner_registration_token"),
        ("glptt-" + "0123456789abcdef" * 2 + "01234567", "gitlab_pipeline_trigger_token"),
        ("glcbt-" + "64_" + "d" * 20, "gitlab_job_token"),
        ("glsoat-" + "e" * 20, "gitlab_scim_token"),
        ("gloas-" + "f" * 64, "gitlab_oauth_app_secret"),
        ("glft-" + "g" * 20, "gitlab_feed_token"),
        ("glpat-" + "h" * 27 + ".01.0w1ab2cd3", "gitlab_pat"),  # routable token format
        ("AKIA" + "IOSFODNN7EXAMPLE", "aws_access_key_id"),
    ],
)
def test_each_token_family_is_found_redacted_and_previewed_without_its_value(token, kind):
    scanner, raw, plain = _scan(f"line one\n{GREEN}$ deploy --token {token}{RESET}\nline three\n")
    [finding] = scanner.findings
    assert (finding.kind, finding.line_number, finding.fingerprint) == (kind, 2, _hmac(token))
    assert token not in raw + plain + finding.preview
    assert finding.preview.endswith("…") and token.startswith(finding.preview[:-1])
    assert f"[REDACTED:{kind}]" in plain and raw.count("\n") == 3
    assert raw.startswith(f"line one\n{GREEN}$ deploy --token [REDACTED:{kind}]{RESET}")  # colours kept


@pytest.mark.parametrize(
    "line",
    [
        *LOOKALIKE_LINES,
        "glpat- is the prefix",
        "AKIAIOSFODNN7EXAMPLEXX",
        "password: [MASKED]",
        "export PASSWORD=$DB_PASSWORD",
        "token=12345678",
        "DB_PASSWORD_FILE=/run/secrets/db",
        "password=short",
        'if [ "$TOKEN" == "" ]; then',
        "PWD=/builds/acme/api",
    ],
)
def test_lookalikes_are_not_findings(line):
    scanner, raw, _ = _scan(line + "\n")
    assert scanner.findings == [] and raw == line + "\n"


@pytest.mark.parametrize(
    "line, kind, value",
    [
        ("export DB_PASSWORD=s3cr3t!Value%x", "password_assignment", "s3cr3t!Value%x"),
        ("password=hunter2hunter2", "password_assignment", "hunter2hunter2"),
        ('config: {"client_secret": "q8Zp-44aB-77xY"}', "secret_assignment", "q8Zp-44aB-77xY"),
        ("curl 'https://api.example.com/v1?access_token=Zm9vYmFyYmF6&x=1'", "token_assignment", "Zm9vYmFyYmF6"),
        (
            "AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
            "secret_assignment",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
    ],
)
def test_generic_assignments_redact_only_the_value(line, kind, value):
    scanner, raw, _ = _scan(line + "\n")
    [finding] = scanner.findings
    assert (finding.kind, finding.fingerprint) == (kind, _hmac(value))
    assert value not in raw and f"[REDACTED:{kind}]" in raw
    assert raw.split("[REDACTED")[0] == line.split(value)[0]  # the key stays readable


def test_a_token_assigned_to_a_variable_is_one_finding_of_the_specific_kind():
    trigger = "glptt-" + "a1b2c3d4" * 5
    scanner, raw, _ = _scan(
        f"curl -F token={trigger} -F ref=main https://gitlab.example.com\nexport GITLAB_TOKEN={PAT}\n"
    )
    assert [(f.kind, f.line_number) for f in scanner.findings] == [
        ("gitlab_pipeline_trigger_token", 1),
        ("gitlab_pat", 2),
    ]
    assert raw == (
        "curl -F token=[REDACTED:gitlab_pipeline_trigger_token] -F ref=main https://gitlab.example.com\n"
        "export GITLAB_TOKEN=[REDACTED:gitlab_pat]\n"
    )


@pytest.mark.parametrize("cut", [None, 1, 2, 3, 4, 5])
def test_a_private_key_is_one_finding_even_when_split_across_blocks(cut):
    text = "\n".join([f"{GREEN}$ cat deploy/id_rsa{RESET}", *PEM, "Job succeeded"]) + "\n"
    scanner, raw, plain = _scan(text, blocks=[cut] if cut else None)
    [finding] = scanner.findings
    assert (finding.kind, finding.line_number) == ("private_key", 2)
    assert finding.fingerprint == _hmac("\n".join(PEM))
    assert finding.preview == "-----BEGIN RSA PRIVATE KEY-----…"
    assert raw.split("\n") == [
        f"{GREEN}$ cat deploy/id_rsa{RESET}",
        *["[REDACTED:private_key]"] * 5,
        "Job succeeded",
        "",
    ]
    assert not any(line in plain for line in PEM[1:-1])


def test_a_private_key_escaped_into_one_line_and_one_without_its_end():
    one_line = '{"private_key": "' + "\\n".join(PEM) + '\\n"}'
    scanner, raw, _ = _scan(one_line + "\n" + PEM[0] + "\n" + PEM[1] + "\nnot base64 at all: resumes here\n")
    assert [(f.kind, f.line_number) for f in scanner.findings] == [("private_key", 1), ("private_key", 2)]
    assert raw.split("\n")[0] == '{"private_key": "[REDACTED:private_key]\\n"}'
    assert raw.split("\n")[1:] == [
        "[REDACTED:private_key]",
        "[REDACTED:private_key]",
        "not base64 at all: resumes here",
        "",
    ]


def test_user_patterns_find_their_group_and_bad_ones_are_refused_with_the_setting_named():
    scanner, raw, _ = _scan(
        "api key: acme_live_0123456789abcdef\n", patterns={"acme_key": r"acme_live_(?P<secret>[0-9a-f]{16})"}
    )
    [finding] = scanner.findings
    assert finding.kind == "acme_key" and raw == "api key: acme_live_[REDACTED:acme_key]\n"
    with pytest.raises(GitLabSourceError, match=r"secret_patterns\.acme_key is not a valid regular expression"):
        build_detectors({"acme_key": "acme_[0-9"})
    with pytest.raises(GitLabSourceError, match="lower_snake_case"):
        build_detectors({"Acme Key": "acme"})
    with pytest.raises(GitLabSourceError, match="built-in kind"):
        build_detectors({"gitlab_pat": "x+"})
    with pytest.raises(GitLabSourceError, match="matches the empty string"):
        build_detectors({"anything": ".*"})


def test_fingerprints_are_keyed_stable_and_trace_one_secret_across_places():
    first, _, _ = _scan(f"a {PAT}\n")
    second, _, _ = _scan(f"b\nc {PAT} and again\n")
    other_key, _, _ = _scan(f"a {PAT}\n", key="another-key")
    assert first.findings[0].fingerprint == second.findings[0].fingerprint == _hmac(PAT)
    assert other_key.findings[0].fingerprint != first.findings[0].fingerprint
    assert KEY not in repr(Fingerprinter(KEY))
    assert (
        preview("glpat-" + "z" * 20, 6) == "glpat-zzzz…"
        and preview("abcdefgh", 0) == "ab…"
        and preview("abc123", 0) == "…"
    )


def test_findings_equal_the_planted_secrets_of_a_bigger_world_whatever_the_blocks():
    emulator = GitLabEmulator(world=seed_world(jobs=600))  # traces are rendered without serving them
    planted = {}
    for secret in emulator.planted_secrets:
        planted.setdefault(secret.job_id, set()).add((secret.kind, secret.line_number, _hmac(secret.value)))
    rng = random.Random(3)
    assert len(planted) > 40
    for job_id, expected in planted.items():
        text = emulator.trace_text(job_id)
        lines = text.count("\n")
        cuts = sorted(rng.sample(range(1, lines), k=min(3, lines - 1)))
        scanner, raw, plain = _scan(text, blocks=cuts)
        assert {(f.kind, f.line_number, f.fingerprint) for f in scanner.findings} == expected, job_id
        assert raw.count("\n") == plain.count("\n") == lines
        for secret in emulator.planted_secrets:
            if secret.job_id == job_id:
                assert secret.value not in raw and secret.value not in plain


def test_the_generated_key_is_kept_in_secrets_toml_where_dlt_finds_it(tmp_path):
    settings = tmp_path / ".dlt"
    settings.mkdir()
    (settings / "secrets.toml").write_text('[sources.gitlab]\naccess_token = "glpat-keep-me"\n')
    key = save_new_fingerprint_key(str(settings))
    assert len(key) >= 40
    text = (settings / "secrets.toml").read_text()
    assert 'access_token = "glpat-keep-me"' in text and key in text
    provider = SecretsTomlProvider(str(settings))
    assert provider.get_value("fingerprint_key", str, None, "sources", "gitlab")[0] == key


def test_without_a_key_the_fingerprinter_says_where_to_put_one():
    with pytest.raises(GitLabSourceError, match="sources.gitlab.fingerprint_key") as raised:
        Fingerprinter("")
    assert "dlt_secrets_toml" in str(raised.value) and "\n" not in str(raised.value)


def test_a_new_secrets_file_is_private_and_an_unwritable_folder_says_what_to_set(tmp_path):
    fresh = tmp_path / "fresh" / ".dlt"
    save_new_fingerprint_key(str(fresh))
    assert stat.S_IMODE(os.stat(fresh / "secrets.toml").st_mode) == 0o600
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    with pytest.raises(GitLabSourceError, match="SOURCES__GITLAB__FINGERPRINT_KEY"):
        save_new_fingerprint_key(str(blocked))
