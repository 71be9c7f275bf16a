"""The provisioner's operations, usable as a library: each one a few calls between the pipeline's stages.

settings    Settings (one run's configuration) and the state store they name
connection  the platform client: URL and token checks, the embedded platform for --local
manifests   the final manifests of a run (validate, validation_result, manifests_or_empty)
session     Session: one run against one state (held locked) and one platform; plan, apply
guards      a plan's safety checks: paths left alone, mass destroy
plan_file   saved plans: read, write, recognise, check the workspace, restore their secrets
adopt       import and refresh: bring what the platform holds into state
export      manifests written from the platform's unmanaged assistants
state_edits the `state` commands' edits: mv, rm, show; the lock holder's liveness
workspaces  list, create, select and delete workspaces
"""
