"""An in-repo GitLab REST v4 emulator speaking real HTTP on 127.0.0.1, for the demo, tests and benchmarks."""

from gitlab_emulator.auth import TOKENS
from gitlab_emulator.emulator import GitLabEmulator
from gitlab_emulator.leaks import PlantedSecret
from gitlab_emulator.model import World
from gitlab_emulator.seed import seed_tiny_world, seed_world
from gitlab_emulator.server import RequestRecord

__all__ = ["TOKENS", "GitLabEmulator", "PlantedSecret", "RequestRecord", "World", "seed_tiny_world", "seed_world"]
