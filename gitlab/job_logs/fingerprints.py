"""Keyed fingerprints of secrets (HMAC), and the key kept with the other dlt secrets."""

import hashlib
import hmac
import logging
import os
import secrets

import tomlkit
import tomlkit.exceptions

from gitlab.errors import GitLabSourceError
from gitlab.settings import FINGERPRINT_KEY_BYTES

logger = logging.getLogger(__name__)

FINGERPRINT_KEY_NAME = "fingerprint_key"
FINGERPRINT_HEX_CHARS = 32  # 128 bits of HMAC-SHA256


class Fingerprinter:
    """Keyed hash of secret values: the same secret always gives the same fingerprint, which reveals nothing.

    HMAC-SHA256 with a key kept in dlt secrets, never next to the data: without the key even a short
    password cannot be recovered by hashing guesses.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise GitLabSourceError("the fingerprint key is empty: set sources.gitlab.fingerprint_key")
        self._key = key.encode("utf-8")

    def fingerprint(self, value: str) -> str:
        """The hex fingerprint of `value`."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_CHARS]

    def start(self) -> "hmac.HMAC":
        """An incremental HMAC, for a value (a PEM block) that arrives line by line."""
        return hmac.new(self._key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Fingerprinter(key='*****')"


def load_or_create_fingerprint_key(settings_dir: str) -> str:
    """The fingerprint key saved in `<settings_dir>/secrets.toml`, generated and saved there when absent.

    The key lives with the other dlt secrets, where the next run finds it as `sources.gitlab.fingerprint_key`,
    and never in dlt state: state is loaded into the destination, next to the fingerprints it would unlock.

    Args:
        settings_dir (str): dlt's settings folder, `.dlt` of the project (dlt.current.run_context()).

    Returns:
        str: The key.
    """
    path = os.path.join(settings_dir, "secrets.toml")
    try:
        document = tomlkit.document()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as existing:
                document = tomlkit.parse(existing.read())
        section = document.setdefault("sources", tomlkit.table()).setdefault("gitlab", tomlkit.table())
        if section.get(FINGERPRINT_KEY_NAME):
            return str(section[FINGERPRINT_KEY_NAME])
        key = secrets.token_urlsafe(FINGERPRINT_KEY_BYTES)
        section[FINGERPRINT_KEY_NAME] = key
        os.makedirs(settings_dir, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise GitLabSourceError(
            f"cannot keep a generated fingerprint key in {path} ({type(exc).__name__}): set"
            " sources.gitlab.fingerprint_key (or SOURCES__GITLAB__FINGERPRINT_KEY) to a long random string"
        ) from None
    logger.warning(
        "generated sources.gitlab.fingerprint_key and saved it in %s; keep it with your other secrets"
        " (in CI: SOURCES__GITLAB__FINGERPRINT_KEY), or later fingerprints will not match earlier ones",
        path,
    )
    return key
