"""Constants of the GitLab source: API defaults, page sizes, retry and concurrency settings."""

SOURCE_NAME = "gitlab"  # of the dlt source: its schema, and its key in dlt state
DEFAULT_BASE_URL = "https://gitlab.com"
USER_AGENT = "gitlab-dlt"
API_PREFIX = "/api/v4"
PER_PAGE = 100  # GitLab's maximum page size
START_DATE = "2000-01-01T00:00:00.000Z"  # initial value of every incremental cursor
DEFAULT_DATASET = "gitlab_data"
PIPELINE_NAME = "gitlab_pipeline"
DEMO_PIPELINE_NAME = "gitlab_demo"  # the demo never writes into a real load's dataset or state
DEMO_DATASET = "gitlab_demo_data"  # not the DuckDB file's name, gitlab_demo: DuckDB could not tell them apart
MAX_TABLE_NESTING = 1

REQUEST_TIMEOUT_SECONDS = 60
REQUEST_MAX_ATTEMPTS = 6
REQUEST_BACKOFF_FACTOR = 0.5
REQUEST_MAX_RETRY_DELAY_SECONDS = 60
REST_CONNECTIONS = 32  # REST requests in flight at once, over all threads; more wait for a connection to come back

# jobs (gitlab/job_listing.py): a project's first load lists GET /projects/:id/jobs, later runs each changed pipeline
JOB_LISTING_CONCURRENCY = 16  # pipelines asked for their jobs at once, per page of changed pipelines

TOKEN_ENV_VARS = ("GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN")

# The request budget (gitlab/rate_limit.py): every request of a run, REST lists and job logs alike
RATE_LIMIT_HEADROOM = 0.8  # the gitlab.com preset keeps to this share of each documented limit
PROJECT_JOBS_REQUESTS_PER_MINUTE = 600  # GitLab's default project_jobs_api_rate_limit per user, on every host
RATE_LIMIT_LOW_FRACTION = 0.1  # below this share of RateLimit-Limit left, requests are spread until the reset
RATE_LIMIT_RESET_MARGIN_SECONDS = 0.5  # waited past RateLimit-Reset: a request right at it may count in the old window
RATE_LIMIT_BACKOFF_FIRST_SECONDS = 1.0  # after a 429 without RateLimit headers; doubles per 429 in a row
RATE_LIMIT_BACKOFF_CAP_SECONDS = 60.0  # GitLab's per-endpoint limits count per minute
RATE_LIMIT_MAX_NAP_SECONDS = 1.0  # a waiting request looks again this often: answers may shorten its wait
RATE_LIMIT_WAIT_LINE_MIN_SECONDS = 1.0  # shorter waits (pacing) are not worth a line
RATE_LIMIT_WAIT_LINE_PERIOD_SECONDS = 10.0  # at most one "waiting" line this often

# job_logs (gitlab/job_logs.py): GET /projects/:id/jobs/:job_id/trace, scanned for secrets as it streams
JOB_FINISHED_STATUSES = ("success", "failed", "canceled")  # a job in another status has no final log yet
TRACE_CONCURRENCY = 64  # trace requests in flight: the throughput peak of the sweep in benchmarks/RESULTS.md
GITLAB_COM_HOSTS = ("gitlab.com", "www.gitlab.com")
TRACE_CONCURRENCY_GITLAB_COM = 10  # the gitlab.com preset, with the request budget's
TRACE_MAX_BYTES = 1_048_576  # stored text per log; a longer log keeps its head and tail halves
TRACE_CHUNK_BYTES = 65_536  # bytes read from the socket at a time
TRACE_MAX_LINE_BYTES = 1_048_576  # a longer line without a newline is scanned in pieces
TRACE_STORE_TEXT = True  # False: store sizes, sections and findings, but no log text
TRACE_STRIP_ANSI = True  # False: keep the ANSI colour codes in the stored text
TRACE_MAX_ATTEMPTS = 6  # per log, for 5xx, timeouts and dropped connections
TRACE_BACKOFF_BASE_SECONDS = 0.5  # first backoff; doubles per attempt, with jitter
TRACE_BACKOFF_CAP_SECONDS = 30.0
TRACE_MAX_WAIT_SECONDS = 300.0  # longest Retry-After of a 5xx honoured at once
TRACE_CONNECT_TIMEOUT_SECONDS = 30.0
TRACE_READ_TIMEOUT_SECONDS = 60.0  # between two chunks of a log
TRACE_PENDING_MAX_RUNS = 10  # runs a failing log is retried in before it is given up (with a warning)
FINGERPRINT_KEY_BYTES = 32  # of a generated sources.gitlab.fingerprint_key
