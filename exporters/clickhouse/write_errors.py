"""Why an insert failed: the store could not take it now (retryable), or it answered and refused the data.

Only a refusal the store states in words that hold for these rows whatever the moment is permanent: a value
its column cannot take, a constraint, the schema (a column or table missing). Everything else is retryable:
connection refused or reset, timeouts, an HTTP error without a ClickHouse code (a proxy, a restarting server),
overload and transient states (too many parts, memory, read-only replicas, Keeper), and any code not listed
below; a retryable answer costs a retry, a wrong permanent one loses a sender's data.

The same classification serves the embedded engine (chDB: clickhouse-connect's DatabaseError, the code in the
message's `Code: N.`) and a server (DatabaseError with the code of `X-ClickHouse-Exception-Code`).
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.exceptions import DatabaseError, DataError

from pdata.store import StoreRefused

# ClickHouse error codes (src/Common/ErrorCodes.cpp) that mean "these rows cannot be stored as they are".
REFUSED_CODES: dict[int, str] = {
    6: "CANNOT_PARSE_TEXT",
    8: "THERE_IS_NO_COLUMN",
    10: "NOT_FOUND_COLUMN_IN_BLOCK",
    16: "NO_SUCH_COLUMN_IN_TABLE",
    20: "NUMBER_OF_COLUMNS_DOESNT_MATCH",
    25: "CANNOT_PARSE_ESCAPE_SEQUENCE",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    43: "ILLEGAL_TYPE_OF_ARGUMENT",
    44: "ILLEGAL_COLUMN",
    47: "UNKNOWN_IDENTIFIER",
    53: "TYPE_MISMATCH",
    60: "UNKNOWN_TABLE",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    81: "UNKNOWN_DATABASE",
    117: "INCORRECT_DATA",
    130: "CANNOT_READ_ARRAY_FROM_TEXT",
    131: "TOO_LARGE_STRING_SIZE",
    190: "SIZES_OF_ARRAYS_DONT_MATCH",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
    407: "DECIMAL_OVERFLOW",
    469: "VIOLATED_CONSTRAINT",
}

# Retryable by name, so that no one moves them to the list above: the store is busy, restarting, or cut off.
# (Any code in neither list is retryable too.)
RETRYABLE_CODES: dict[int, str] = {
    159: "TIMEOUT_EXCEEDED",
    164: "READONLY",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    203: "NO_FREE_CONNECTION",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    252: "TOO_MANY_PARTS",
    279: "ALL_CONNECTION_TRIES_FAILED",
    319: "UNKNOWN_STATUS_OF_INSERT",
    394: "QUERY_WAS_CANCELLED",
    425: "SYSTEM_ERROR",
    999: "KEEPER_EXCEPTION",
    1001: "STD_EXCEPTION",
}

_CODE = re.compile(r"\bCode:\s*(\d+)\.")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code an exception carries (clickhouse-connect's `code`, else `Code: N.` in its text)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def refused_write(context: str, exc: Exception) -> StoreRefused | None:
    """The refusal an insert that failed with `exc` is, or None when it may succeed later (StoreUnavailable)."""
    if isinstance(exc, DataError) and error_code(exc) is None:
        # clickhouse-connect could not encode a value into its column's type: the rows themselves are wrong.
        return StoreRefused(f"{context}: {exc}", str(exc), None)
    if isinstance(exc, DatabaseError):
        code = error_code(exc)
        if code in REFUSED_CODES:
            return StoreRefused(f"{context}: {exc}", _reason(str(exc)), code)
    return None


def _reason(message: str) -> str:
    """The store's message without the driver's prefix and the server's version trailer (the sender reads it)."""
    start = message.find("Code:")
    reason = message[start:] if start >= 0 else message
    reason = re.sub(r"\s*\(version [^()]*(?:\([^()]*\))?[^()]*\)\s*$", "", reason.strip())
    return reason.splitlines()[0] if reason else message
