"""The OpenAPI 3.1 document of every JSON (and CSV) endpoint on :8080, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from console.report import DEFAULT_LIMIT, MAX_LIMIT


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_NUMBER = {"type": "number"}
_INT = {"type": "integer", "minimum": 0}
_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_TEXT_FILTER = {"type": "string", "maxLength": 256}

_FIGURES = {
    "accepted_lines": _NUMBER, "removed_lines": _NUMBER, "accepts": _NUMBER, "rejects": _NUMBER,
    "acceptance_rate": _RATE, "active_users": _INT, "sessions": _INT, "spend_usd": _NUMBER,
}  # fmt: skip


def _object(properties: dict[str, Any], extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": extra}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


_RANGE = [
    _query("start", {"type": "string", "format": "date"}, "first UTC day (default: end - 29 days)"),
    _query("end", {"type": "string", "format": "date"}, "last UTC day (default: today)"),
    _query("org", _TEXT_FILTER, "only this organization.id"),
    _query("team", _TEXT_FILTER, "only this team"),
]
_MONTH = [
    _query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "calendar month YYYY-MM (default: this month)"),
    _query("org", _TEXT_FILTER, "only this organization.id"),
    _query("team", _TEXT_FILTER, "only this team"),
]
_DENIED = {
    "400": _json(_ref("Error"), "bad parameter, with the reason"),
    "401": _json(_ref("Error"), "no credentials, or unknown ones"),
    "403": _json(_ref("Error"), "the role may not view analytics"),
    "503": _json(_ref("Error"), "the analytics store is unreachable"),
}
_CSV = {"description": "CSV with a header row", "content": {"text/csv": {"schema": {"type": "string"}}}}
_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"session": []}]

_TOKENS = _object({"input": _NUMBER, "output": _NUMBER, "cache_read": _NUMBER, "cache_creation": _NUMBER})
_DECISIONS = _object({"accepted": _NUMBER, "rejected": _NUMBER})

SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}, "message": {"type": "string"}}),
    "AnthropicError": _object(
        {"type": {"const": "error"}, "error": _object({"type": {"type": "string"}, "message": {"type": "string"}})}
    ),
    "Figures": _object(_FIGURES),
    "Day": _object({"date": {"type": "string", "format": "date"}, **_FIGURES}),
    "ToolAcceptance": _object({"accepts": _NUMBER, "rejects": _NUMBER, "acceptance_rate": _RATE}),
    "Analytics": _object(
        {
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "totals": _ref("Figures"),
            "acceptance_by_tool": {"type": "object", "additionalProperties": _ref("ToolAcceptance")},
            "days": {"type": "array", "items": _ref("Day")},
        }
    ),
    "TeamMember": _object(
        {
            "member": {"type": "string"},
            "member_type": {"enum": ["email", "api_key", "account", "anonymous"]},
            "spend_usd": _NUMBER,
            "accepted_lines": _NUMBER,
            "sessions": _INT,
            "last_active": {"type": ["string", "null"]},
        }
    ),
    "Team": _object({"month": {"type": "string"}, "members": {"type": "array", "items": _ref("TeamMember")}}),
    "Filters": _object(
        {
            "organizations": {"type": "array", "items": {"type": "string"}},
            "teams": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "Me": _object({"name": {"type": "string"}, "role": {"type": "string"}, "role_name": {"type": "string"}}),
    "UsageRecord": _object(
        {
            "date": {"type": "string"},
            "actor": {
                "oneOf": [
                    _object({"type": {"const": "user_actor"}, "email_address": {"type": "string"}}),
                    _object({"type": {"const": "api_actor"}, "api_key_name": {"type": "string"}}),
                ]
            },
            "organization_id": {"type": "string"},
            "customer_type": {"enum": ["api", "subscription"]},
            "subscription_type": {"type": ["string", "null"]},
            "terminal_type": {"type": "string"},
            "is_remote": {"type": "boolean"},
            "core_metrics": _object(
                {
                    "num_sessions": _INT,
                    "lines_of_code": _object({"added": _NUMBER, "removed": _NUMBER}),
                    "commits_by_claude_code": _NUMBER,
                    "pull_requests_by_claude_code": _NUMBER,
                }
            ),
            "tool_actions": _object(
                {
                    "edit_tool": _DECISIONS,
                    "multi_edit_tool": _DECISIONS,
                    "write_tool": _DECISIONS,
                    "notebook_edit_tool": _DECISIONS,
                }
            ),
            "model_breakdown": {
                "type": "array",
                "items": _object(
                    {
                        "model": {"type": "string"},
                        "tokens": _TOKENS,
                        "estimated_cost": _object({"amount": _NUMBER, "currency": {"const": "USD"}}),
                    }
                ),
            },
        }
    ),
    "UsageReport": _object(
        {
            "data": {"type": "array", "items": _ref("UsageRecord")},
            "has_more": {"type": "boolean"},
            "next_page": {"type": ["string", "null"]},
        }
    ),
}


def _get(summary: str, parameters: list[dict[str, Any]], ok: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters, "responses": {"200": ok, **errors}}}


def document() -> dict[str, Any]:
    anthropic_errors = {
        code: _json(_ref("AnthropicError"), text)
        for code, text in (
            ("400", "invalid_request_error: bad starting_at, limit or page"),
            ("401", "authentication_error"),
            ("403", "permission_error"),
            ("503", "api_error: the analytics store is unreachable"),
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "claude-code-analytics console API",
            "version": "1",
            "description": "Analytics of Claude Code telemetry. Every path but /healthz and /readyz needs a "
            "principal whose role may view analytics (Primary Owner, Owner, Billing, Admin, Developer).",
        },
        "security": _SECURITY,
        "paths": {
            "/api/v1/analytics": _get("Daily series and totals", _RANGE, _json(_ref("Analytics"), "figures"), _DENIED),
            "/api/v1/analytics.csv": _get("Daily series as CSV", _RANGE, _CSV, _DENIED),
            "/api/v1/team": _get("Team insights for a month", _MONTH, _json(_ref("Team"), "members"), _DENIED),
            "/api/v1/team.csv": _get("Team insights as CSV", _MONTH, _CSV, _DENIED),
            "/api/v1/filters": _get(
                "Organizations and teams seen in a range", _RANGE[:2], _json(_ref("Filters"), "choices"), _DENIED
            ),
            "/api/v1/me": _get("The signed-in principal", [], _json(_ref("Me"), "principal"), _DENIED),
            "/v1/organizations/usage_report/claude_code": _get(
                "Claude Code usage report (Anthropic Admin API compatible): one record per actor for one UTC day",
                [
                    _query("starting_at", {"type": "string", "format": "date"}, "the UTC day", required=True),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        "records per page",
                    ),
                    _query("page", {"type": "string"}, "next_page of the previous answer"),
                ],
                _json(_ref("UsageReport"), "records"),
                anthropic_errors,
            ),
            "/healthz": {
                "get": {"summary": "process up", "security": [], "responses": {"200": _json({"type": "object"}, "up")}}
            },
            "/readyz": {
                "get": {
                    "summary": "store reachable and write queue not full",
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object"}, "ready"),
                        "503": _json({"type": "object"}, "not ready"),
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cca_session"},
            },
        },
    }
