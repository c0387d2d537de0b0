"""The files ``perfgate init`` writes into an app's repository, rendered from what it detected (pure text).

Three files: ``perfgate.toml`` (the config, commented), ``.github/workflows/perf.yml``
(each self-hosted tier measures, one hosted job gates; safe by construction:
``permissions: {}``, a fork's code never on the self-hosted runners, actions
pinned by SHA, untrusted values only through ``env:``) and ``baselines/README.md``
(how the first baseline is made).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from perfgate import __version__
from perfgate.contracts.baseline import first_baseline_command

# The actions perfgate's own perf workflow uses, pinned by commit (the comment is the release).
CHECKOUT = "actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8 # v6.0.1"
SETUP_PYTHON = "actions/setup-python@83679a892e2d95755f2dac6acb0bfd1e9ac5d548 # v6.1.0"
UPLOAD = "actions/upload-artifact@b7c566a772e6b6bfb58ed0dc250532a479d7789f # v6.0.0"
DOWNLOAD = "actions/download-artifact@37930b1c2abaa49bbe596cd826c3c89aef350131 # v7.0.0"
FROM_FORK = "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name != github.repository"


@dataclass(frozen=True)
class AppShape:
    """What kind of repository this is, and the harness command suggested for it."""

    kind: str  # "swift", "python" or "unknown"
    name: str | None
    command: tuple[str, ...]

    def described(self) -> str:
        named = f" {self.name}" if self.name else ""
        return {"swift": f"Swift package{named}", "python": f"Python project{named}"}.get(self.kind, "a repository")


@dataclass(frozen=True)
class RuntimeFound:
    """What answered at the runtime's base URL (``answered`` False: nothing did, and why)."""

    kind: str
    base_url: str
    answered: bool
    version: str | None
    models: tuple[str, ...]
    note: str  # one line: what was found, or what went wrong


@dataclass(frozen=True)
class InitPlan:
    """Everything the files are rendered from."""

    app: AppShape
    runtime: RuntimeFound
    model: str
    tier: str | None  # this host's tier, when one matched
    self_hosted: tuple[tuple[str, tuple[str, ...]], ...]  # (tier, runner labels) for the workflow's matrix


def _toml_list(words: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(word) for word in words) + "]"


def perfgate_toml(plan: InitPlan) -> str:
    rt = plan.runtime
    others = [m for m in rt.models if m != plan.model]
    has = f" It also has: {', '.join(others[:6])}{' …' if len(others) > 6 else ''}." if others else ""
    process = ""
    if rt.kind == "ollama":
        process = "\n# Sample `ollama serve` and its runner child: found by its port first, by this name if not."
        process += '\nprocess_name = "ollama"'
    tiers = ", ".join(name for name, _labels in plan.self_hosted) or "none"
    here = f"tier {plan.tier}" if plan.tier else "no tier (pass --tier, or add one below)"
    return f"""\
# perfgate's settings for this repository, written by `perfgate init` (perfgate {__version__}).
# perfgate reads ./perfgate.toml; a pyproject.toml's [tool.perfgate] table is the other place it
# looks, and only one of the two may hold settings (both: perfgate refuses, exit 2).
# Layers, lowest first: built-in defaults < this file < PERFGATE_* environment < command-line flags.
# Every setting: perfgate's docs/configuration.md.

# Measured runs per scenario after the discarded warm-ups (a baseline takes gate.baseline_runs, 15).
runs = 5
warmup = 1

[runtime]
# {"Detected by perfgate init: " if rt.answered else "perfgate init found "}{rt.note}.
kind = "{rt.kind}"
base_url = {json.dumps(rt.base_url)}
# The model the app asks for: perfgate checks the runtime has it and records its digest.{has}
model = {json.dumps(plan.model)}{process}

# The app's own benchmark command ({plan.app.described()}): perfgate runs it once per warm-up
# and measured run, with OLLAMA_HOST and OPENAI_BASE_URL pointing at its measuring proxy in front
# of the runtime, and gates what the app's users feel. Uncomment it once the command exists:
# [scenarios.app]
# command = {_toml_list(plan.app.command)}
# timeout_s = 300
#
# Until then `perfgate run` measures the runtime with perfgate's own built-in scenarios
# (short-explain, prefill). With the app measured, switch them off:
# [scenarios.short-explain]
# enabled = false
# [scenarios.prefill]
# enabled = false

# Hardware tiers: a class of machines whose numbers compare. Built in: base (Apple M1/M2, 16 GB),
# pro (Apple M3 Pro, 36 GB) and the catch-all local. This machine: {here}.
# Self-hosted tiers in .github/workflows/perf.yml: {tiers}. A tier of your own:
# [tiers.studio]
# description = "Mac Studio, M2 Ultra"
# match = {{ chip_regex = "M2 Ultra", os = "darwin" }}
# runner_labels = ["self-hosted", "macOS", "ARM64", "perf-studio"]
"""


def _matrix(self_hosted: Sequence[tuple[str, Sequence[str]]]) -> str:
    rows = [f"          - tier: {tier}\n            runs-on: {_toml_list(labels)}" for tier, labels in self_hosted]
    return "\n".join(rows)


def perf_workflow(plan: InitPlan) -> str:
    tiers = ",".join(tier for tier, _labels in plan.self_hosted)
    return f"""\
# The performance gate, written by `perfgate init`: each tier's self-hosted runner measures the
# app, then one job on a hosted runner gates every tier at once, comments on the pull request
# and triages. Make that job ("perf gate") the required status check. Each runner has the
# runtime running with the model pulled, and the tier's label (see runs-on below).
name: perf

on:
  pull_request:
  push:
    branches: [main]
  workflow_dispatch:

# Nothing by default; each job asks for what it needs.
permissions: {{}}

# A newer push makes the older measurement pointless, and the perf runners are scarce.
concurrency:
  group: perf-${{{{ github.event.pull_request.number || github.ref }}}}
  cancel-in-progress: true

env:
  # Where perfgate comes from, pinned: the version that wrote this file (a git URL pinned to a
  # commit works too: "perfgate @ git+https://github.com/OWNER/perfgate@COMMIT_SHA").
  PERFGATE: "perfgate=={__version__}"
  PIP_DISABLE_PIP_VERSION_CHECK: "1"

jobs:
  measure:
    name: measure (${{{{ matrix.tier }}}})
    # A pull request from a fork NEVER runs on the self-hosted runners: its code would run on
    # your machines, next to your runtime and model. Same-repository PRs, pushes and manual runs do.
    if: github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository
    runs-on: ${{{{ matrix.runs-on }}}}
    timeout-minutes: 60
    permissions:
      contents: read
    strategy:
      # Each tier is its own machine; one tier's trouble must not cancel another's numbers.
      fail-fast: false
      matrix:
        include:
{_matrix(plan.self_hosted)}
    env:
      TIER: ${{{{ matrix.tier }}}}
      RESULTS: perf-results/results-${{{{ matrix.tier }}}}.json
    steps:
      # Full history: a regression of the app is re-measured against the commit its baseline
      # was made on (--ab-confirm), checked out in a temporary git worktree.
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
          fetch-depth: 0
      - name: Install perfgate
        run: |
          python3 -m venv "$RUNNER_TEMP/perfgate"
          "$RUNNER_TEMP/perfgate/bin/python" -m pip install --quiet "$PERFGATE"
          echo "$RUNNER_TEMP/perfgate/bin" >> "$GITHUB_PATH"
      # A regression does not fail this job: the gate job decides for every tier at once.
      # Only a missing results file (nothing measured) fails it.
      - name: Measure and compare with the tier's baseline
        run: |
          status=0
          perfgate run --tier "$TIER" --out "$RESULTS" --compare --ab-confirm || status=$?
          if [ ! -f "$RESULTS" ]; then
            echo "::error::tier $TIER: no results file (perfgate exited $status)"
            exit 1
          fi
      - name: Upload results
        if: always()
        uses: {UPLOAD}
        with:
          name: perf-results-${{{{ matrix.tier }}}}
          path: |
            perf-results/results-${{{{ matrix.tier }}}}.json
            perf-results/confirmation-${{{{ matrix.tier }}}}.json
          if-no-files-found: warn
          retention-days: 30

  gate:
    name: perf gate
    needs: measure
    # Whether measure passed, failed or was skipped (a fork's PR), so the required check always
    # reports; not when a newer push cancelled the run.
    if: ${{{{ !cancelled() }}}}
    runs-on: ubuntu-latest
    timeout-minutes: 15
    permissions:
      contents: read        # checkout: baselines/
      pull-requests: write  # the one sticky PR comment
      issues: write         # triage entries
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
          fetch-depth: 0
      - uses: {SETUP_PYTHON}
        with:
          python-version: "3.11"
      - uses: {DOWNLOAD}
        with:
          pattern: perf-results-*
          path: perf-results
          merge-multiple: true
      - name: Install perfgate
        run: python -m pip install "$PERFGATE"
      # A fork's PR was not measured and its token is read-only: gate without publishing.
      - name: Gate, comment and triage
        env:
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
          FROM_FORK: ${{{{ {FROM_FORK} }}}}
        run: |
          mkdir -p perf-results
          publish=(--comment --triage)
          if [ "$FROM_FORK" = "true" ]; then
            echo "::warning::pull request from a fork: perf is never measured on self-hosted runners for forks"
            publish=()
          fi
          perfgate gate --results-dir perf-results --expect-tiers {tiers} \\
            --summary-out perf-results/summary.md --confirmations perf-results "${{publish[@]}}"
      - name: Upload gate report
        if: always()
        uses: {UPLOAD}
        with:
          name: perf-gate
          path: |
            perf-results/gate.json
            perf-results/summary.md
          if-no-files-found: warn
          retention-days: 30
"""


def baselines_readme(plan: InitPlan) -> str:
    tier = plan.tier or (plan.self_hosted[0][0] if plan.self_hosted else "local")
    one = first_baseline_command(tier).replace(" && ", "\n")
    listed = ", ".join(f"`{name}`" for name, _labels in plan.self_hosted) or "none yet"
    return f"""\
# Baselines

One file per hardware tier, `<tier>.json`: the samples each pull request's run on that tier is
compared with. A baseline moves only through a reviewed commit, never by CI itself.
Tiers measured by `.github/workflows/perf.yml`: {listed}.

## Making a tier's first baseline

Until a tier has its file, its gate ends in exit 3 ("no baseline") and says the command below.
On a machine of the tier (its self-hosted runner, or a Mac with the same chip and RAM), with the
runtime running and the model pulled (`perfgate host` says which tier a machine is):

```bash
{one}
git add baselines/{tier}.json && git commit -m "perf: first baseline of tier {tier}"
```

`--for-baseline` measures 15 runs per scenario (`gate.baseline_runs`). Three sessions (three
separate runs, each with its own warm-up) let the gate weigh how far one session's figures move
from the next; `perfgate baseline update` takes them all:

```bash
for k in 1 2 3; do perfgate run --tier {tier} --for-baseline --out perf-results/baseline-{tier}-$k.json; done
perfgate baseline update --tier {tier} --from perf-results/baseline-{tier}-*.json
```

A pull request that changes a baseline shows old against new in its perf comment
(`perfgate baseline diff`); review it like code.
"""
