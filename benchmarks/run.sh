#!/usr/bin/env bash
# Benchmark suite: bash benchmarks/run.sh quick|full
#
# Flee 3.1 and Mesa 3 live in their own virtual environment (.venv-bench) so that their
# dependencies (mpi4py, muscle3, matplotlib, ...) never touch the project's. corridor is
# installed there editable, so the suite always measures the working tree.
set -euo pipefail

mode="${1:-quick}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
py="$venv/bin/python"

case "$mode" in
  quick) args=(--quick) ;;
  full) args=() ;;
  *) echo "usage: bash benchmarks/run.sh quick|full" >&2; exit 2 ;;
esac

if [ ! -x "$py" ] || ! "$py" -c "import flee, mesa, numba, numpy, pandas" 2>/dev/null; then
  echo "setting up $venv (Flee 3.1, Mesa 3, numpy, numba, pandas)" >&2
  python3 -m venv "$venv"
  "$py" -m pip install -q --upgrade pip >/dev/null
  "$py" -m pip install -q "flee==3.1" "mesa>=3,<4" numpy numba pandas
fi
if ! "$py" -c "import corridor.engine.walk" 2>/dev/null; then
  # Editable without deps first (keeps numpy/numba as installed); corridor's own runtime deps
  # (xarray, pydantic, ...) only if importing corridor still needs them.
  "$py" -m pip install -q --no-deps -e "$root"
  if ! "$py" -c "import corridor.engine.walk" 2>/dev/null; then
    echo "installing corridor's runtime dependencies into $venv" >&2
    "$py" -m pip install -q -e "$root"
  fi
fi

cd "$root"
exec "$py" benchmarks/run.py "${args[@]}"
