"""The store's writes and reads load no DataFrame library (exporters/clickhouse/store.py, driver_options).

clickhouse-connect imports pandas on its first insert only to check whether the rows are a DataFrame: about
0.5 s of CPU and 40-70 MB of resident memory in every writer. The store never hands it one. Run in a fresh
interpreter, since the test process may have pandas loaded by other tests. (numpy is loaded either way: chDB's
own module imports pyarrow, and pyarrow numpy.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.collector import REPO_ROOT

WRITE_AND_READ = """
import json, sys, time
from exporters.clickhouse import ClickHouseConfig, create_store
from pdata import Member, MetricPoint, PointFact

member = Member("alice@example.com", "email", "org-acme", "core")
facts = []
for number, lines in enumerate((10, 5, 1)):
    now = time.time_ns()
    attributes = {"session.id": "sess-1", "user.email": member.member, "type": "added"}
    point = MetricPoint("claude_code.lines_of_code.count", "count", 1, True, now - 1, now, lines, attributes, {})
    facts.append(PointFact(point, member, lines, 0, "lines_added", "", bytes([number]) * 16, now))
store = create_store(ClickHouseConfig(f"chdb://{sys.argv[1]}", journal_dir=sys.argv[2]))
store.write(facts, [])
lines = store.select("SELECT sum(accepted_lines) FROM member_daily")[0][0]
store.close()
print(json.dumps({"lines": float(lines), "pandas_loaded": "pandas" in sys.modules}))
"""


def test_writing_and_reading_the_store_does_not_load_pandas(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WRITE_AND_READ, str(tmp_path / "chdb"), str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"lines": 16.0, "pandas_loaded": False}
