#!/usr/bin/env bash
# Start the cerebros worker, its demo or its test suite.
#
#   ./start_cerebros.sh            run the worker daemon against THUNDERLINE_API_URL
#   ./start_cerebros.sh demo       train one job end to end on this machine
#   ./start_cerebros.sh test       install the development tools and run the tests
#
# Each command creates the virtual environment (.venv, or CEREBROS_VENV) and
# installs the project into it when needed. Extra arguments go to the worker,
# the demo or pytest.
set -euo pipefail

cd "$(dirname "$0")"
VENV="${CEREBROS_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

# Install the project with the given extra unless this exact pyproject.toml
# was already installed with it; the marker file records that.
ensure_installed() {
    local extra="$1"
    local marker="$VENV/.cerebros-installed-${extra:-base}"

    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating virtual environment in $VENV" >&2
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
    # The dev and demo extras include the base install, so either satisfies
    # a plain run.
    if [ -z "$extra" ]; then
        for candidate in "$VENV"/.cerebros-installed-*; do
            if [ -f "$candidate" ] && [ ! pyproject.toml -nt "$candidate" ]; then
                marker="$candidate"
                break
            fi
        done
    fi
    if [ ! -f "$marker" ] || [ pyproject.toml -nt "$marker" ]; then
        local target="."
        [ -n "$extra" ] && target=".[$extra]"
        echo "Installing cerebros ($target) into $VENV; the first time downloads TensorFlow" >&2
        "$VENV/bin/python" -m pip install --quiet -e "$target"
        touch "$marker"
    fi
}

command="${1:-daemon}"
case "$command" in
    demo)
        shift
        ensure_installed demo
        exec "$VENV/bin/python" -m cerebros_trainer.demo "$@"
        ;;
    test)
        shift
        ensure_installed dev
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    daemon)
        [ $# -gt 0 ] && shift
        ensure_installed ""
        mkdir -p logs
        exec "$VENV/bin/cerebros-trainer" "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    -*)
        ensure_installed ""
        mkdir -p logs
        exec "$VENV/bin/cerebros-trainer" "$@"
        ;;
    *)
        echo "start_cerebros.sh: unknown command '$command'" >&2
        usage >&2
        exit 2
        ;;
esac
