"""The command line's commands, one module per family; provisioner.cli gathers them into one group.

group       what the root needs before any command loads: exit codes, --no-color, the group class that adds it
options     the shared options, their one wording (HELP)
run         around every command's core: settings from the flags, sessions, confirmation, errors and exit codes
manifests   validate, render, schema: offline, on the manifests alone
plan_apply  plan, apply, destroy
adopt       import, export, refresh
state       the state group (list, show, rm, mv, pull, push), force-unlock, show
pull        pull: the platform's drifted values back into the manifests
workspace   the workspace group (list, show, new, select, delete)
"""
