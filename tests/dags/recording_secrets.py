"""An Airflow secrets backend for the DAG test: it finds nothing and records the Variable names it is asked for.

Airflow asks the configured backend first, as it would ask Secret Manager on Composer, so the names recorded
while parsing are the lookups a parse of the DAG costs there. Runs inside the Airflow virtualenv; the driver's
folder is on `sys.path`, so `AIRFLOW__SECRETS__BACKEND=recording_secrets.RecordingSecretsBackend` finds it.
"""

from typing import List, Optional

from airflow.secrets import BaseSecretsBackend


class RecordingSecretsBackend(BaseSecretsBackend):
    variables_asked: List[str] = []  # class-wide: Airflow makes its own instance

    def get_variable(self, key: str, team_name: Optional[str] = None) -> Optional[str]:
        RecordingSecretsBackend.variables_asked.append(key)
        return None

    def get_conn_value(self, conn_id: str, team_name: Optional[str] = None) -> Optional[str]:
        return None
