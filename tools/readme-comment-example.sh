#!/bin/bash
# Makes README's "The pull-request comment" example: two simulated tiers (baselines of 3 sessions × 5 runs),
# pro's TTFT 25 % slower, one fixed run of 5 each, then the gate. Prints the Markdown summary.
# Usage: bash tools/readme-comment-example.sh   (PG=path/to/perfgate to choose the perfgate)
set -euo pipefail
PG=${PG:-perfgate}
W=$(mktemp -d)
cd "$W"
cat > pyproject.toml <<'TOML'
[tool.perfgate]
runs = 5
warmup = 1

[tool.perfgate.runtime]
kind = "sim"

[tool.perfgate.sim]
ttft_ms = 80.0
tok_s = 100.0

[tool.perfgate.scenarios]
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.short]
prompt = "Explain what Bzzbe does in two short sentences."
num_predict = 32

[tool.perfgate.tiers.base]
description = "simulated base tier"
simulated = true
auto_detect = false

[tool.perfgate.tiers.pro]
description = "simulated pro tier"
simulated = true
auto_detect = false
TOML
for tier in base pro; do
  for s in 1 2 3; do "$PG" run --tier $tier --out b-$tier-$s.json > /dev/null; done
  "$PG" baseline update --tier $tier --from b-$tier-1.json b-$tier-2.json b-$tier-3.json > /dev/null
done
"$PG" run --tier base --out res/results-base/results-base.json > /dev/null
PERFGATE_SIM__TTFT_MS=100 "$PG" run --tier pro --out res/results-pro/results-pro.json > /dev/null
set +e
"$PG" gate --results-dir res --expect-tiers base,pro --triage > gate.out 2>&1
echo "gate exit $?"
cat res/summary.md
