"""The value and time policy: points and events that cannot be true are refused with a reason, never stored."""

from processors.policy.values import COUNTER_LIMITS, EVENT_NUMBER_LIMITS, TimeWindow, ValuePolicy

__all__ = ["COUNTER_LIMITS", "EVENT_NUMBER_LIMITS", "TimeWindow", "ValuePolicy"]
