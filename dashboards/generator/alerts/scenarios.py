"""What the promtool scenarios of every alert group are written with: the organization and collectors they
are about, and a team's working week as a counter."""

from __future__ import annotations

from generator.promtool import counter, increments, series, working
from generator.vocabulary import OTLP_REQUESTS, t

# --- scenario helpers -----------------------------------------------------------------------------------------

ORG = 'organization_id="org-acme"'
JOB = t("collector_job")
C1 = f'job="{JOB}", instance="c1:9464"'
C2 = f'job="{JOB}", instance="c2:9464"'
C1_LABELS = {"job": JOB, "instance": "c1:9464"}  # of an alert firing for the collector C1
ORG_LABELS = {"organization_id": "org-acme"}  # of an alert firing for the organization ORG


def weekly(per_step: float, until: int, change: tuple[int, float] | None = None, step: int = 10) -> str:
    """A counter of a team that works the working hours of THRESHOLDS on working days and rests otherwise:
    `per_step` in each working step of `step` minutes, from the epoch to the minute `until`; `change` =
    (minute, per_step) makes working steps from that minute on add another amount."""
    hours, days_of_week = t("working_hours_utc"), t("working_days")

    def add(minute: int) -> float:
        if not working(minute, hours, days_of_week):
            return 0.0
        return change[1] if change is not None and minute >= change[0] else per_step

    return counter(increments(until // step, step, add))


def otlp_requests(status: str, values: str, target: str = C1) -> dict[str, str]:
    """OTLP/gRPC metrics requests of a collector answered with `status`."""
    return series(f'{OTLP_REQUESTS}{{{target}, protocol="grpc", signal="metrics", status="{status}"}}', values)
