#!/bin/sh
# Install claude-code-analytics from a source tree into a fresh virtualenv, as `make run` does (venv, newer
# pip, the project), without the test extras and without an editable install. The image build runs this and
# so does tests/deploy, so what the tests start is what the image ships.
#
#   install.sh VENV_DIR SOURCE_DIR        (PYTHON picks the interpreter, python3 by default)
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 VENV_DIR SOURCE_DIR" >&2
    exit 2
fi
venv="$1"
source_dir="$2"

"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install --quiet --disable-pip-version-check "$source_dir"
# The console's static files and the SQL must have come along, or the image starts and then fails.
"$venv/bin/python" -c "import collector.cli, console, exporters.clickhouse"
