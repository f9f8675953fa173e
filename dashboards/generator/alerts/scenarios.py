"""What the promtool scenarios of every alert group are written with: the organization and collectors they
are about, and a team's working week as a counter."""

from __future__ import annotations

from generator.alerts.model import Scenario
from generator.promtool import at, counter, increments, series, working
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


def of_c1(metric: str, values: str, labels: str = "") -> dict[str, str]:
    """A series of the collector C1, with `labels` besides its job and instance."""
    more = f", {labels}" if labels else ""
    return series(f"{metric}{{{C1}{more}}}", values)


def flat(value: float, steps: int = 25) -> str:
    """A gauge or counter that stays at `value`: a counter flat at 0 has not risen at all."""
    return f"{value}x{steps}"


def rising(per_step: float, steps: int) -> str:
    """A counter from 0 that rises by `per_step` every step for `steps` steps (flat at 0 for 0)."""
    return f"0+{per_step}x{steps}" if per_step else flat(0, steps)


def jumps(after: float, before: float = 0, start: int = 5, steps: int = 25) -> str:
    """`before` for the first `start` steps, then `after`: a gauge that crosses a threshold, or a counter that
    rises by `after - before` at once and stays there."""
    return f"{before}x{start} {after}x{steps - start}"


def climbs(start: int = 5, steps: int = 25) -> str:
    """A counter flat at 0 for `start` steps that then rises by one every step."""
    return f"0x{start} 1+1x{steps - start}"


def working_monday(monday: int) -> tuple[str, ...]:
    """A Monday's working hours checked early, mid-morning and late: where a week-long quiet case must hold."""
    return (at(monday, 9, 30), at(monday, 10, 30), at(monday, 16, 30))


# A collector in queue.mode=memory exposes every durable queue figure at 0, its capacity too: the queue's alerts
# stay quiet for it, and each shows so in a scenario.
MEMORY_MODE = "a collector in queue.mode=memory (every durable queue figure 0)"


def memory_mode(*selectors: str, when: tuple[str, ...] = ("15m",), name: str = MEMORY_MODE) -> Scenario:
    """The quiet case of a durable-queue alert for a collector in memory mode: each series flat at 0."""
    return Scenario(name, [series(selector, flat(0)) for selector in selectors], when)
