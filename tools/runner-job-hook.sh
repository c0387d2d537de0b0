#!/bin/bash
# Before and after every job on a persistent self-hosted perf runner (macOS): take away what an
# earlier job could have left for a later one. docs/ci-setup.md, "Hardening a persistent runner",
# says how to install it (root-owned, outside the runner's directory) and what it cannot do.
#
# The runner runs it as its own user, with `bash -e`, named in ~/actions-runner/.env. Install it
# under two names; the name says which hook it is:
#   ACTIONS_RUNNER_HOOK_JOB_STARTED=/usr/local/libexec/perfgate/job-started.sh
#   ACTIONS_RUNNER_HOOK_JOB_COMPLETED=/usr/local/libexec/perfgate/job-completed.sh
# Before a job, a non-zero exit fails the job without running it.
#
# 1. Kills leftover processes: the runner's own clean-up finds a job's processes by their
#    RUNNER_TRACKING_ID, which a job can clear. Here a process is left over when it runs as
#    this user, is not a launchd job of the login session, and no launchd job is its
#    ancestor (a job's process whose parent exited is re-parented to launchd, pid 1). After
#    a job, the processes under this job's Runner.Worker go too (all but this hook's own).
#    A process whose command (`ps -o comm=`) starts with a line of $ETC/processes.allow stays:
#    for what the dry run shows your login session runs outside launchd (the command is the
#    process's own argv[0], so this is a convenience, not a fence).
# 2. Deletes per-user state a job can plant for the next: ~/.gitconfig and ~/.config/git,
#    the Python user site (~/Library/Python), pip's cache, and after a job the workspace.
# 3. Before a job, fails it when something it cannot undo has changed: a launch agent not
#    in the allowlist, or a model (name and digest, `ollama list`) not in the expected list.
#
# PERFGATE_HOOK_DRY_RUN=1 prints what it would kill or delete and changes nothing: run it so,
# by hand in the runner's session, before you install it.
set -u

ETC=${PERFGATE_HOOK_ETC:-/usr/local/etc/perfgate}
DRY_RUN=${PERFGATE_HOOK_DRY_RUN:-0}
case "$(basename "$0")" in
  *started*) phase=started ;;
  *) phase=completed ;;
esac
problems=0

say() { printf 'runner-job-hook (%s): %s\n' "$phase" "$*"; }
fail() { printf '::error::runner-job-hook (%s): %s\n' "$phase" "$*"; problems=$((problems + 1)); }
act() {
  if [ "$DRY_RUN" = "1" ]; then say "would run: $*"; else "$@"; fi
}

# --- 1. leftover processes ----------------------------------------------------------------
me=$(id -u)
table=$(ps -axo pid=,ppid=,uid=)
# The pids of this user's launchd jobs (first column of `launchctl list`; "-" when not running).
launchd_jobs=" $(launchctl list 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { printf "%s ", $1 }')"

parent_of() { awk -v p="$1" '$1 == p { print $2; exit }' <<<"$table"; }
# This hook's ancestors (never killed) and, after a job, this job's Runner.Worker.
ours=" $$ "
worker=""
pid=$$
while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
  ours+="$pid "
  if [ -z "$worker" ] && ps -o comm= -p "$pid" 2>/dev/null | grep -q 'Runner.Worker$'; then
    worker=$pid
  fi
  pid=$(parent_of "$pid")
done

leftover() {  # $1 pid: 0 when nothing that is allowed to stay holds it
  local p=$1
  case "$ours" in *" $p "*) return 1 ;; esac
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    case "$launchd_jobs" in *" $p "*) return 1 ;; esac
    [ "$p" = "$$" ] && return 1  # this hook's own ps, awk, kill
    if [ "$phase" = completed ] && [ -n "$worker" ] && [ "$p" = "$worker" ]; then return 0; fi
    p=$(parent_of "$p")
  done
  return 0
}

allowed() {  # $1 pid: 0 when its command starts with a line of processes.allow
  local command prefix
  [ -f "$ETC/processes.allow" ] || return 1
  command=$(ps -o comm= -p "$1" 2>/dev/null) || return 1
  while IFS= read -r prefix; do
    [ -n "$prefix" ] && [ "${command#"$prefix"}" != "$command" ] && return 0
  done <"$ETC/processes.allow"
  return 1
}

victims=()
while read -r pid _ uid; do
  [ "$uid" = "$me" ] || continue
  [ "$pid" = "$$" ] && continue
  if leftover "$pid" && ! allowed "$pid"; then victims+=("$pid"); fi
done <<<"$table"
if [ "${#victims[@]}" -gt 0 ]; then
  say "leftover processes: ${victims[*]}"
  [ "$DRY_RUN" = "1" ] && ps -o pid=,ppid=,command= -p "$(IFS=,; echo "${victims[*]}")"
  act kill -KILL "${victims[@]}" 2>/dev/null || true
fi

# --- 2. per-user state --------------------------------------------------------------------
for path in "$HOME/.gitconfig" "$HOME/.config/git" "$HOME/.git-credentials" \
            "$HOME/Library/Python" "$HOME/.local/lib" "$HOME/Library/Caches/pip" "$HOME/.cache/pip"; do
  if [ -e "$path" ] || [ -L "$path" ]; then
    say "removing $path"
    act rm -rf -- "$path"
  fi
done
if [ "$phase" = completed ] && [ -n "${GITHUB_WORKSPACE:-}" ] && [ -d "$GITHUB_WORKSPACE" ]; then
  say "removing the workspace"
  act rm -rf -- "$GITHUB_WORKSPACE"
fi

# --- 3. what a clean-up cannot undo ----------------------------------------------------------
if [ "$phase" = started ]; then
  if [ -f "$ETC/launch-agents.allow" ]; then
    for plist in "$HOME"/Library/LaunchAgents/*.plist; do
      [ -e "$plist" ] || continue
      grep -qxF "$(basename "$plist")" "$ETC/launch-agents.allow" \
        || fail "launch agent not in $ETC/launch-agents.allow: $(basename "$plist")"
    done
  fi
  if [ -f "$ETC/models.expected" ]; then
    if ! models=$(ollama list 2>/dev/null | awk 'NR > 1 { print $1, $2 }' | sort); then
      fail "ollama list failed: is the runtime up?"
    elif [ "$models" != "$(sort "$ETC/models.expected")" ]; then
      fail "the runtime's models differ from $ETC/models.expected (ollama list: $(tr '\n' ';' <<<"$models" | tr -cd '[:print:]'))"
    fi
  fi
fi

if [ "$problems" -gt 0 ]; then
  say "$problems problem(s): an administrator must look at this machine before it measures again"
  exit 1
fi
exit 0
