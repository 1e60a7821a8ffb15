#!/usr/bin/env bash
# README command 1, literally, as a new user runs it: a fresh clone, a fresh venv, empty
# weights and Keras caches. Then check the dream PNG exists and carries its recipe.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$root" "$work/kdream"
command="$(python "$root/.ci/readme_command.py" "$root/README.md" 1)"
cd "$work/kdream"
export KDREAM_HOME="$work/kdream-home" KERAS_HOME="$work/keras-home"
unset KERAS_BACKEND KDREAM_WEIGHTS KDREAM_INCEPTION2015_WHEEL
echo "+ $command"
start=$SECONDS
bash -euo pipefail -c "$command" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }
echo "README command 1 finished in $((SECONDS - start)) s; what the user saw, pip's lines left out:"
grep -v -E '^(WARNING: Location|Looking in|Collecting|Downloading|Using cached|Requirement already|Installing|Successfully|  |Building|Created|Stored|Processing|Obtaining|Preparing|Getting|Attempting|Found existing|Uninstalling)' \
  "$work/out.txt" || true
if grep -q -E 'Traceback|Downloading data from' "$work/out.txt"; then
  echo "README command 1 printed a traceback or a foreign download line" >&2
  exit 1
fi
.venv/bin/python - <<'PY'
import json, os
from kdream.imageio import read_recipe

recipe = read_recipe("coffee_dream.png")
assert recipe["weights"]["source"] in ("imagenet", "inception2015"), recipe["weights"]
assert recipe["backend"] == "tensorflow", recipe["backend"]
print("coffee_dream.png:", os.path.getsize("coffee_dream.png"), "bytes; recipe:",
      json.dumps({k: recipe[k] for k in ("kdream", "backend", "weights")}))
PY
