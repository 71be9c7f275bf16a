#!/usr/bin/env bash
# The provisioner steps of the pipeline recipes (docs/ci.md), in one place so that the GitHub Actions and
# GitLab CI recipes run exactly the same commands, and the test suite runs them too (tests/test_ci_recipes.py).
#
#   docs/ci/provisioner-steps.sh validate         check the manifests offline
#   docs/ci/provisioner-steps.sh plan             plan; save it, and its text and markdown views
#   docs/ci/provisioner-steps.sh apply            apply the saved plan if there is one, else plan and apply
#   docs/ci/provisioner-steps.sh drift            exit 2 when the platform differs from the manifests
#   docs/ci/provisioner-steps.sh gitlab-comment   post or update the plan as a merge request note
#
# Environment (set from the CI's secret store and variables, never in the recipe itself):
#   PROVISIONER_API_URL    the platform's base URL
#   PROVISIONER_API_TOKEN  the platform's API token (a masked secret)
#   PROVISIONER_PG_DSN     the team's PostgreSQL state, for the state backend (a masked secret)
#   PROVISIONER_BACKEND    postgres: the state on the team's PostgreSQL (sqlite: a file the job loses)
#   PROVISIONER_WORKSPACE  the environment's workspace (created on first use), e.g. prod: one of those the
#                          repository's vars/<workspace>.yaml or overlays/<workspace>/ define, if it defines any
#   PROVISIONER_ARGS       extra options for the plan, apply and drift commands (each takes those it has: plan leaves
#                          out apply's --allow-replace, --no-verify, --parallelism); validate takes those it has
#   PROVISIONER_PATHS      manifest paths, space-separated (default: manifests)
#   PROVISIONER_OUT        where the plan and its views are written (default: provisioner-out)
# Outputs in $PROVISIONER_OUT: provisioner.plan (the saved plan, JSON: docs/plan-format.md), plan.txt,
# plan.md (the pull-request comment), changes ("true"/"false"), drift.md (drift step).
set -euo pipefail

step=${1:?usage: provisioner-steps.sh validate|plan|apply|drift|gitlab-comment}
out=${PROVISIONER_OUT:-provisioner-out}
read -r -a paths <<< "${PROVISIONER_PATHS:-manifests}"
read -r -a args <<< "${PROVISIONER_ARGS:-}"
export NO_COLOR=1
mkdir -p "$out"

pick_args() {  # the options of PROVISIONER_ARGS that one command takes, into `picked`: $1 the names that take
  # a value (--name VALUE or --name=VALUE), $2 the flags; the others (--local, --max-retries, ...) are not its own
  local valued=" $1 " flags=" ${2:-} " i=0 word
  picked=()
  while [ "$i" -lt "${#args[@]}" ]; do
    word=${args[$i]}
    if [[ "$valued" == *" ${word%%=*} "* ]]; then
      if [[ "$word" == *=* ]]; then picked+=("$word"); else picked+=("$word" "${args[$((i + 1))]:-}"); i=$((i + 1)); fi
    elif [[ "$flags" == *" $word "* ]]; then
      picked+=("$word")
    fi
    i=$((i + 1))
  done
}

omit_args() {  # PROVISIONER_ARGS without some options, into `kept`: $1 the names that take a value (--name VALUE,
  # --name=VALUE, or -nVALUE for a one-letter name), $2 the flags
  local valued=" $1 " flags=" ${2:-} " i=0 word
  kept=()
  while [ "$i" -lt "${#args[@]}" ]; do
    word=${args[$i]}
    if [[ "$valued" == *" ${word%%=*} "* ]]; then
      if [[ "$word" != *=* ]]; then i=$((i + 1)); fi
    elif [[ "$word" == -[a-zA-Z]?* && "$valued" == *" ${word:0:2} "* ]]; then
      :  # -lVALUE
    elif [[ ! "$flags" == *" $word "* ]]; then
      kept+=("$word")
    fi
    i=$((i + 1))
  done
}

# The options of PROVISIONER_ARGS that apply alone has (--allow-replace: a replacement that loses data), which the
# plan and drift steps leave out: `plan` has none of them.
APPLY_ONLY_VALUED="--parallelism"
APPLY_ONLY_FLAGS="--allow-replace --no-verify"

ensure_workspace() {  # the environment's workspace exists from the first pipeline run on
  if [ -n "${PROVISIONER_WORKSPACE:-}" ]; then
    # In the state PROVISIONER_ARGS names: its options that say where the state is.
    pick_args "--config --state --backend" "--init-store"
    provisioner workspace select --or-create "$PROVISIONER_WORKSPACE" ${picked[@]+"${picked[@]}"} >&2
  fi
}

output() {  # a step output for GitHub Actions (ignored elsewhere)
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >> "$GITHUB_OUTPUT"; fi
}

case "$step" in
  validate)
    # With the options of PROVISIONER_ARGS that change what is valid (--api-dialect v2, --config, --var, ...):
    # without them a v2 repository failed here ("exists only in API dialect v2") while its plan passed.
    pick_args "--config --api-dialect --workspace --var --var-file --policy-dir --manifest-limit"
    provisioner validate ${picked[@]+"${picked[@]}"} "${paths[@]}"
    ;;
  plan)
    rc=0
    # A plan that fails saves nothing: no earlier run's plan may be left in its place for the apply step to apply.
    rm -f "$out/provisioner.plan" "$out/plan.txt" "$out/changes"
    # A workspace that cannot be selected (the state store out of reach) fails the step, but after the plan, which
    # fails on the same cause and writes the comment saying why: stopping here left an earlier plan's comment up.
    selected=0
    ensure_workspace || selected=$?
    # The comment is this run's own markdown view: the saved plan does not keep the policy results (warnings
    # included), so `show --format markdown` of it would leave the policy table out of the pull request.
    omit_args "$APPLY_ONLY_VALUED" "$APPLY_ONLY_FLAGS"
    provisioner plan ${kept[@]+"${kept[@]}"} --detailed-exitcode --out "$out/provisioner.plan" --format markdown \
      "${paths[@]}" > "$out/plan.md.new" || rc=$?
    if [ "$selected" -ne 0 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; }; then rc=$selected; fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
      # A plan that fails saves nothing, but the pull request must show why (a comment of an earlier, passing plan
      # would stay up): its markdown view (a policy's violations, or the error, under the workspace's marker) goes
      # to plan.md for the comment step, and the step fails.
      rm -f "$out/provisioner.plan"  # made by a plan that passed when the workspace could not be selected
      if head -n 1 "$out/plan.md.new" | grep -q '^<!-- provisioner-plan'; then
        mv "$out/plan.md.new" "$out/plan.md"
      else
        rm -f "$out/plan.md.new"
      fi
      exit "$rc"
    fi
    mv "$out/plan.md.new" "$out/plan.md"
    provisioner show "$out/provisioner.plan" > "$out/plan.txt"
    cat "$out/plan.txt"
    changes=$([ "$rc" -eq 2 ] && echo true || echo false)
    echo "$changes" > "$out/changes"
    output changes "$changes"
    ;;
  apply)
    ensure_workspace
    if [ -f "$out/provisioner.plan" ]; then
      # Exactly the reviewed plan; refused (exit 1) if the state or the platform changed since. Without the options
      # that made it (variables, selection): the plan carries them, and `apply PLANFILE` refuses them.
      omit_args "--var --var-file --target --exclude --replace --selector -l"
      provisioner apply ${kept[@]+"${kept[@]}"} "$out/provisioner.plan"
    else
      provisioner apply "${args[@]}" --auto-approve "${paths[@]}"
    fi
    ;;
  drift)
    ensure_workspace
    rc=0
    # --read-documents: a document renamed or replaced in the dashboard shows nowhere else (docs/graph.md).
    omit_args "$APPLY_ONLY_VALUED" "$APPLY_ONLY_FLAGS"
    provisioner plan ${kept[@]+"${kept[@]}"} --lock=false --detailed-exitcode --read-documents --format markdown \
      "${paths[@]}" > "$out/drift.md" || rc=$?
    case "$rc" in
      0) echo "No drift: the platform matches the manifests." ;;
      2) echo "Drift: the platform differs from the manifests (details in $out/drift.md)."
         cat "$out/drift.md" ;;
    esac
    output drift "$([ "$rc" -eq 2 ] && echo true || echo false)"
    exit "$rc"
    ;;
  gitlab-comment)
    # Needs CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID (set by GitLab) and GITLAB_API_TOKEN
    # (a project access token with the api scope, as a masked CI/CD variable).
    python3 - "$out/plan.md" <<'PYTHON'
import json, os, sys, urllib.request

MARKER = "<!-- provisioner-plan -->"  # the first line, with the project and workspace: one note per workspace
body = open(sys.argv[1], encoding="utf-8").read()
marker = body.split("\n", 1)[0]
if not marker.startswith(MARKER[:-4]):
    sys.exit(f"{sys.argv[1]} does not start with the provisioner's marker")
base = f"{os.environ['CI_API_V4_URL']}/projects/{os.environ['CI_PROJECT_ID']}" \
       f"/merge_requests/{os.environ['CI_MERGE_REQUEST_IID']}/notes"
headers = {"PRIVATE-TOKEN": os.environ["GITLAB_API_TOKEN"], "Content-Type": "application/json"}


def call(method, url, data=None):
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(data).encode() if data is not None else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null"), response.headers


previous, page = None, "1"
while page and previous is None:
    notes, response_headers = call("GET", f"{base}?per_page=100&sort=asc&page={page}")
    previous = next((n for n in notes if (n.get("body") or "").split("\n", 1)[0] == marker), None)
    page = response_headers.get("X-Next-Page")
if previous:
    call("PUT", f"{base}/{previous['id']}", {"body": body})
    print(f"Updated merge request note {previous['id']}.")
else:
    note, _ = call("POST", base, {"body": body})
    print(f"Posted merge request note {note['id']}.")
PYTHON
    ;;
  *)
    echo "unknown step: $step" >&2
    exit 1
    ;;
esac
