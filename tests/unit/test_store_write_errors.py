"""Which insert failures are permanent: the errors are the ones clickhouse-connect raises for the embedded
engine (`Code: N.` in the message) and for a server (the code of X-ClickHouse-Exception-Code), built as the
driver builds them."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from exporters.clickhouse.write_errors import REFUSED_CODES, RETRYABLE_CODES, StoreRefused, refused_write

CONSTRAINT = (
    "Code: 469. DB::Exception: Constraint `no_poison` for table default.metric_points is violated at row 1. "
    "Expression: (value != 4242). Column values: value = 4242. (VIOLATED_CONSTRAINT)"
)


def test_an_embedded_engine_refusal_is_permanent_with_the_engine_s_reason() -> None:
    refused = refused_write("insert refused", DatabaseError(CONSTRAINT, code=469, name="VIOLATED_CONSTRAINT"))
    assert isinstance(refused, StoreRefused)
    assert (refused.code, refused.reason) == (469, CONSTRAINT)


def test_a_server_refusal_is_permanent_without_the_driver_prefix_and_the_version() -> None:
    message = "Received ClickHouse exception, code: 53, server response: Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH) (version 25.8.1.1)"
    refused = refused_write("insert refused", DatabaseError(message, code=53))
    assert refused is not None and refused.reason == "Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)"


def test_the_code_is_read_from_the_message_when_the_driver_gives_none() -> None:
    assert refused_write("insert refused", DatabaseError(CONSTRAINT)) is not None


def test_a_value_the_driver_cannot_encode_into_its_column_is_permanent() -> None:
    error = DataError("Unable to create native array for column `series_key`: error")
    refused = refused_write("insert refused", error)
    assert refused is not None and refused.code is None


@pytest.mark.parametrize(
    "error",
    [
        DatabaseError("Code: 252. DB::Exception: Too many parts. (TOO_MANY_PARTS)", code=252),
        DatabaseError("Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)", code=241),
        DatabaseError("HTTP driver received HTTP status 502, server response: Bad Gateway"),
        DatabaseError("Code: 9999. DB::Exception: something new", code=9999),
        OperationalError("Network Error: Connection refused"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
    ],
)
def test_everything_else_is_retryable(error: Exception) -> None:
    assert refused_write("insert failed", error) is None


def test_no_code_is_both_permanent_and_retryable() -> None:
    assert set(REFUSED_CODES) & set(RETRYABLE_CODES) == set()
