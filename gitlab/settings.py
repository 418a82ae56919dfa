"""Constants of the GitLab source: API defaults, page sizes, retry and concurrency settings."""

DEFAULT_BASE_URL = "https://gitlab.com"
API_PREFIX = "/api/v4"
PER_PAGE = 100  # GitLab's maximum page size
START_DATE = "2000-01-01T00:00:00.000Z"  # initial value of every incremental cursor
DEFAULT_DATASET = "gitlab_data"
PIPELINE_NAME = "gitlab_pipeline"
MAX_TABLE_NESTING = 2

REQUEST_TIMEOUT_SECONDS = 60
REQUEST_MAX_ATTEMPTS = 6
REQUEST_BACKOFF_FACTOR = 0.5
REQUEST_MAX_RETRY_DELAY_SECONDS = 60
PREFLIGHT_MAX_ATTEMPTS = 2

TOKEN_ENV_VARS = ("GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN")
