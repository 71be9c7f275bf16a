"""Session: one run against one state and one platform, and the plan and apply it makes.

It holds the state lock for its whole length (plan, confirmation and apply see the same state) and one pooled
HTTP client.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..client import PlatformClient
from ..errors import ApiError, PlanError, Problem, ProvisionerError, StalePlanError, StateError
from ..graph import entry_kind, expand, manifest_address, same_objects
from ..kinds import KINDS
from ..manifest import ADDRESS_PATTERN, Manifest
from ..moves import after_moves, mark_moved, plan_moves, saved_moves_conflicts
from ..rename_hint import rename_hints
from ..plan import Action, FieldLocations, Plan
from ..plan_kinds import moved_from
from ..plan_graph import Platform, plan_graph
from ..planner import RemoteAssistant
from ..render.text import kind_counts
from ..reading import (assistants_of, begin_reading, children_to_read, finish_reading, kinds_involved, listable,
                       read_children)
from ..references import Catalog, check_references
from ..saved_plan import conflicts_with_state
from ..scrub import scrub
from ..selection import is_glob, parse_selector
from ..state import DEFAULT_KIND, NoStateStore, Owner, State, StateBackend, locked
from ..state.absent import AbsentStore
from ..state.sql import UNKNOWN_HOLDER
from ..wire import MODEL_TYPE, Lookups
from .connection import connect, platform_identity
from .guards import left_alone, refuse_breaking_left_alone
from .plan_file import changed_document_files, restore_secrets
from .selecting import choose, narrow
from .manifests import no_manifests_found, refuse_no_manifests
from .settings import Settings, declared_by_repository, note_no_store, open_backend, warn
from ..patterns import LazyPattern

if TYPE_CHECKING:  # the apply's types, named in signatures; imported where an apply runs
    from ..apply import ApplyReport, ChangeResult
    from ..verify import Verification


# An address of another kind than assistants (`folder.sales`), or `assistant.NAME`.
TARGET = LazyPattern(r"[a-z]+\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)?")
# Commands that write state: the store is probed before anything is done on the platform.
WRITING_OPERATIONS = {"apply", "destroy", "import", "refresh", "pull", "state rm", "state mv", "state push"}
# Those that make the store where there is none: they record what they did. Any other makes none (`plan`, `show`,
# `state list` at a mistyped --state path each left an empty database there, or tables in a PostgreSQL one).
MAKING_OPERATIONS = {"apply", "destroy", "import", "refresh", "pull", "state push"}
# Of those that make none, the ones that print or change state entries have nothing to do without a store, and say
# so; the others (plan, show, export) go on from an empty state, as a new project's first plan does.
NEED_A_STORE = {"state list", "state show", "state pull", "state rm", "state mv"}
# Those that read what they need of the rows themselves: `session.state` is then an empty state, not the store's.
READS_ITS_OWN_ROWS = {"state push", "state show"}


def check_target_syntax(targets, option: str = "--target") -> None:
    """PlanError for a --target (--exclude, --replace) that is neither a glob nor an address (`Bad Addr`,
    `alpha\\n`)."""
    bad_targets = [t for t in targets if not ADDRESS_PATTERN.fullmatch(t) and not TARGET.fullmatch(t)
                   and not is_glob(t)]
    if bad_targets:
        raise PlanError([Problem(f"{option} {_clip(repr(t))} is not an address (lowercase letters, digits, "
                                 "'-' and '_', after `kind.` for other kinds than assistants)")
                         for t in bad_targets])


def check_selection_syntax(targets, selector: str | None, excludes=(), replace=()) -> None:
    """What the command line's selection says that is wrong whatever the manifests and the state hold: checked
    before the session starts reading the platform (a bad input is caught before any request)."""
    check_target_syntax(targets)
    check_target_syntax(excludes, "--exclude")
    check_target_syntax([r for r in replace if not is_glob(r)], "--replace")  # a glob there is no address either
    if any(is_glob(r) for r in replace):
        raise PlanError([Problem(f"--replace {_clip(repr(r))} is not an address (--replace takes whole addresses, "
                                 "not globs)") for r in replace if is_glob(r)])
    if selector is not None:
        parse_selector(selector)


def _say_waiting(holder, timeout: float) -> None:
    """Under --lock-timeout: who holds the lock, and how long this run waits for it (on stderr)."""
    if holder.id == UNKNOWN_HOLDER:  # PostgreSQL: its advisory lock is held, no row says by whom (yet)
        print(f"The state is locked by another run that has not recorded who it is yet; waiting up to {timeout:g}s "
              "for it (--lock-timeout)...", file=sys.stderr, flush=True)
        return
    print(scrub(f"The state is locked by {holder.who} ({holder.operation} since {holder.created}, on "
                f"{holder.host}, pid {holder.pid}, lock ID {holder.id}); waiting up to {timeout:g}s for it "
                "(--lock-timeout)..."), file=sys.stderr, flush=True)


def check_same_platform(backend) -> None:
    """A workspace's ids are those of the platform its rows were written on. Run against another URL (another
    account's emulator), the same ids were other objects, another workspace's: apply updated them, then re-stamped
    the rows with this platform and lost track of its own. Another URL of the same platform (a proxy, a new host
    name) holds no other workspace's objects under those ids: it is said, and the run goes on."""
    recorded = backend.recorded_platform() if hasattr(backend, "recorded_platform") else ""
    if not recorded or recorded == backend.platform:
        _check_unrecorded_rows(backend)
        return
    clashes = backend.held_elsewhere()
    if not clashes:
        warn(f"workspace {backend.workspace!r} recorded its objects on {recorded}, and this run's platform is "
             f"{backend.platform}: its ids are taken for the same objects there")
        return
    give = _platform_option(recorded)
    shown = "; ".join(f"{address} (id {remote_id}) is {owner.describe()}" for address, remote_id, owner in clashes)
    raise StateError(f"workspace {backend.workspace!r} of project {backend.project!r} manages objects on {recorded} "
                     f"(recorded in its state), and this run's platform is {backend.platform}, where its ids are "
                     f"other workspaces' objects: {shown}. Nothing was read or sent. Give the workspace's platform "
                     f"({give}), or use another workspace for this one (provisioner workspace new NAME)")


def _check_unrecorded_rows(backend) -> None:
    """Rows of no recorded platform (`state push`, `state mv`, an old store, the rows of one object two workspaces
    recorded before the store's one-owner index) whose ids another workspace or project recorded on this run's
    platform: there they are that workspace's objects. `state push` into a new workspace only named them (it could
    not tell the platform); this run can, and would manage them a second time (an apply here updating, or
    destroying, the other workspace's live objects), so it stops before anything is read or sent."""
    if not hasattr(backend, "held_elsewhere"):
        return
    clashes = backend.held_elsewhere(recorded_only=True)
    if not clashes:
        return
    shown = "; ".join(f"{address} (id {remote_id}) is {owner.describe()}" for address, remote_id, owner in clashes)
    first = clashes[0][0]
    raise StateError(f"workspace {backend.workspace!r} of project {backend.project!r} holds ids that another "
                     f"workspace or project manages on {backend.platform}: {shown}. One object has one owner; "
                     "nothing was read or sent. Remove them from one of the two states (`provisioner state rm "
                     f"{first} --workspace {backend.workspace}`, for each), or run this workspace against its own "
                     "platform")


def _platform_option(identity: str) -> str:
    """The option that runs against the platform `identity` names (platform_identity: a URL, or "local")."""
    return "--local" if identity == "local" else f"--api-url {identity}"


class Session:
    def __init__(self, settings: Settings, operation: str, *, lock: bool | None = None,
                 backend: StateBackend | None = None, prefetch: bool = False,
                 planning: list[Manifest] | None = None, create_store: bool | None = None):
        self.settings = settings
        self.operation = operation
        # Whether a store is made where there is none (None: as the operation says, MAKING_OPERATIONS).
        self._create_store = operation in MAKING_OPERATIONS if create_store is None else create_store
        self.backend: StateBackend = backend  # opened on entering, unless given
        self._lock = settings.lock if lock is None else lock
        self._stack = contextlib.ExitStack()
        self.state: State
        self._client: PlatformClient | None = None
        self._platform = ""  # the platform's identity: `platform`
        self._catalog: Catalog | None = None
        self._listing: Future | None = None  # the list read begun on entering, for the first remote()
        self.objects: dict = {}  # kind -> the platform's objects of the other kinds, as the last remote() read them
        # Begin reading the platform's list while the state is read (a plan with manifests to compare).
        self._prefetch = prefetch
        # With `prefetch`, the manifests the plan will be made of: their catalogue and their kinds' lists are read on
        # entering too (at a 20 ms latency, the catalogue's round trip was the plan's one wait after the state read).
        self._planning = planning
        self._early_catalog: tuple[list[Manifest], Future] | None = None
        self._early_reads: dict[str, Future] = {}
        # List the children of every parent (a knowledge base's documents), not only where state says something may
        # have changed: `pull` looks for drift in each of them.
        self.read_every_child = settings.read_documents

    def __enter__(self) -> "Session":
        self._stack.__enter__()
        try:
            if self.backend is None:
                self.backend = self._open_backend()
                self._stack.callback(self.backend.close)
            if hasattr(self.backend, "operation"):
                self.backend.operation = self.operation
            if self.operation in WRITING_OPERATIONS and hasattr(self.backend, "probe"):
                self.backend.probe()  # a store that cannot take a write fails now, before any platform write
            self._stack.enter_context(locked(self.backend, self.operation, timeout=self.settings.lock_timeout,
                                             enabled=self._lock, on_wait=_say_waiting))
            if self._prefetch:
                # The platform's list is read (under the lock) while the state is: a fleet's two longest reads.
                prefetch = ThreadPoolExecutor(1 if self._planning is None else 8, thread_name_prefix="prefetch")
                self._stack.callback(prefetch.shutdown)
                self._listing = prefetch.submit(self.client.list_assistants)
                if self._planning is not None:
                    assistants = assistants_of(self._planning)
                    self._early_catalog = (assistants, prefetch.submit(Catalog.fetch, self.client, assistants))
                    # The manifests' own kinds (remote() reads the others a plan involves: those of state, of lookups)
                    self._early_reads = begin_reading(self.client, listable({m.kind for m in self._planning}), prefetch)
            # `state push` replaces the state whole: it must work on a store whose rows cannot be read (the repair
            # that a bad row's error advises), so it does not read them first; `state show` reads the one entry it
            # prints (state_edits.entry_in_state).
            self.state = self.backend.read() if self.operation not in READS_ITS_OWN_ROWS else State.new()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def _open_backend(self) -> StateBackend:
        """The settings' store; where there is none and this run makes none, an empty state from no store at all
        (AbsentStore), or NoStateStore for a command with nothing to do without one."""
        try:
            return open_backend(self.settings, must_exist=not declared_by_repository(self.settings),
                                create=self._create_store)
        except NoStateStore as missing:
            if self.operation in NEED_A_STORE:
                raise
            note_no_store(self.settings, missing)
            return AbsentStore(missing)

    @property
    def client(self) -> PlatformClient:
        if self._client is None:
            self._client = self._stack.enter_context(connect(self.settings))
            self._platform = platform_identity(self.settings, self._client)
            if hasattr(self.backend, "platform"):
                # Ids are the platform's: ownership across workspaces is per platform (SqlStateStore.owners).
                self.backend.platform = self._platform
                check_same_platform(self.backend)
        return self._client

    @property
    def platform(self) -> str:
        """The platform's identity (connection.platform_identity: the base URL without credentials, "local"),
        as state rows and saved plans record it; worked out once, when the client connects."""
        self.client  # noqa: B018 - connects first
        return self._platform

    def catalog(self, manifests: list[Manifest], pool: ThreadPoolExecutor | None = None,
                engines: tuple[str, ...] = ()) -> Catalog:
        if self._catalog is None:
            # What state saw last only says which models catalogues to read early (the list read ensures the ones
            # the platform's assistants need): a value the provisioner never writes there (edited by hand) is skipped.
            engines = {e for e in (r.remote.get("engine_type") for r in self.state.resources.values())
                       if type(e) is str and e in MODEL_TYPE} | set(engines)
            early, self._early_catalog = self._early_catalog, None
            if early is not None and same_objects(early[0], manifests) and engines <= MODEL_TYPE.keys():
                # Read on entering for these very manifests; the models of the engines state adds are read now, as
                # Catalog.fetch would have (in its order: by model type).
                catalog = early[1].result()
                catalog.ensure_models(engines)
                catalog.lookups.models = dict(sorted(catalog.lookups.models.items()))
                self._catalog = catalog
            else:
                self._catalog = Catalog.fetch(self.client, manifests, engines=engines, pool=pool)
        return self._catalog

    def remote(self, manifests: list[Manifest] = (), engines: tuple[str, ...] = (),
               kinds: tuple[str, ...] = (), *, fields: bool = True) -> list[RemoteAssistant]:
        """The platform's assistants, normalised to manifest values (the catalogue and the list read together);
        the lists of `kinds` are read at the same time, into `self.objects`. Without `fields` (a destroy, which
        decides from ids and names only): as listed, with no fields read and no catalogue."""
        with ThreadPoolExecutor(8, thread_name_prefix="read") as pool:
            listing, self._listing = self._listing or pool.submit(self.client.list_assistants), None
            early, self._early_reads = self._early_reads, {}
            started = begin_reading(self.client, [k for k in kinds if k not in early], pool)
            reads = {k: early[k] if k in early else started[k]
                     for k in sorted(started.keys() | (early.keys() & set(kinds)))}
            catalog = self.catalog(assistants_of(manifests), pool, engines) if fields else None
            items = listing.result()
            self.objects = finish_reading(reads)
        self._confirm_absences(items)
        if not fields:
            return RemoteAssistant.listed(items)
        catalog.ensure_models({item.get("mode") for item in items if isinstance(item.get("mode"), str)})
        return RemoteAssistant.read_all(items, catalog.lookups)

    def _confirm_absences(self, items: list[dict]) -> None:
        """An object state holds that a list read leaves out is gone only if a second read leaves it out too.

        A list that lies by omission is well formed: a page torn by a delete and a create elsewhere between two
        page reads (the total still adds up; one item moves onto a page already read and is never seen), or a
        transient empty answer of a kind's list. Taken once, the plan creates the object again (a duplicate),
        destroy forgets it (left on the platform), refresh forgets it. So when a read misses what state holds,
        that kind's list is read again, and an object the second read shows stops the run: nothing is decided
        from the first. No extra request when nothing is missing."""
        state = getattr(self, "state", None)
        if state is None or not state.resources:
            return
        held: dict[str, set[int]] = {}
        for address, entry in state.resources.items():
            held.setdefault(entry_kind(address, entry), set()).add(entry.id)
        listed = {DEFAULT_KIND: {item.get("id") for item in items if isinstance(item, dict)},
                  **{kind: {o.id for o in objects} for kind, objects in self.objects.items()}}
        for kind, ids in sorted(listed.items()):
            missing = held.get(kind, set()) - ids
            if missing:
                _second_look(kind, missing, (self.client.list_assistants() if kind == DEFAULT_KIND
                                             else KINDS[kind].endpoints.list(self.client, None)))

    def _confirm_child_absences(self, resources: dict, parents: dict[str, tuple[str, int]],
                                objects: dict[str, list]) -> None:
        """`_confirm_absences` for the children listed under each of `parents` (a knowledge base's documents):
        a child state holds under a parent whose list leaves it out is looked for in a second read of that list."""
        for parent, (kind, parent_id) in sorted(parents.items()):
            field = KINDS[kind].parent_field
            held = {entry.id for address, entry in resources.items()
                    if address.startswith(parent + ".") and entry_kind(address, entry) == kind}
            listed = {o.id for o in objects.get(kind, []) if o.fields.get(field) == parent_id}
            if held - listed:
                _second_look(kind, held - listed, KINDS[kind].endpoints.list(self.client, parent_id), f" under {parent}")

    def plan(self, manifests: list[Manifest], *, destroy: bool = False, targets: tuple[str, ...] = (),
             paths: list[str] = (), allow_empty: bool = False,
             allow_mass_destroy: bool = False, allow_mass_forget: bool = False, moves: list = (),
             excludes: tuple[str, ...] = (), selector: str | None = None,
             replace: tuple[str, ...] = (), elsewhere: Mapping[str, str] | None = None) -> tuple[Plan, set[int]]:
        """The plan, and the platform ids that existed when it was made. `moves`: the moved blocks read with the
        manifests (moves.py): the state entries they name are planned at their new addresses. `elsewhere`: the
        manifests in the project's files not among `paths` (address -> file), left alone (guards.left_alone).

        No manifests at all while the state manages assistants is far more often a wrong path, an emptied
        folder or a broken checkout than a wish to delete everything: refused unless `allow_empty`.
        `targets` may be globs; `excludes` and `selector` narrow the plan, `replace` forces replacements
        (docs/selection.md).
        """
        replace = frozenset(manifest_address(r) for r in replace)  # `assistant.x` is the assistant `x`, as for --target
        # Moved blocks rename state entries first (in this copy; apply records them), a destroy's too: its targets are
        # the addresses the manifests have now, and their references were read as the new ones (a destroy that
        # skipped them took `--target tool.new` for an object state did not hold, and `--target tool.old` left the
        # objects whose manifests use it).
        move_records, move_notes = plan_moves(moves, self.state) if moves else ([], [])
        state = after_moves(self.state, move_records)
        selection = choose(manifests, state, targets=targets, excludes=excludes, selector=selector)
        targets = tuple(selection.targets or ())
        check_target_syntax(targets)
        if not destroy and not manifests and self.state.resources and not allow_empty:
            managed = sorted(self.state.resources)
            listed = ", ".join(managed[:5]) + (f" and {len(managed) - 5} more" if len(managed) > 5 else "")
            kinds = kind_counts(entry_kind(a, e) for a, e in self.state.resources.items())
            raise ProvisionerError(
                f"{no_manifests_found(paths)}, but the state manages {kinds} ({listed}); "
                "planning now would destroy all of them. If that is what you want, run `provisioner destroy`, "
                "or pass --allow-empty to plan or apply.")
        if not destroy and self.operation in ("plan", "apply"):  # (`pull` of none has nothing to write, and says so)
            refuse_no_manifests(manifests, paths, allow_empty, doing=self.operation)
        assistants = assistants_of(manifests)
        read = [] if destroy else manifests
        remote = self.remote(assistants if not destroy else [],
                             kinds=tuple(kinds_involved(read, state.resources)), fields=not destroy)
        objects = dict(self.objects)
        # A knowledge base's documents: listed per knowledge base, only where something may have changed.
        expanded = expand(read)  # planned from too (plan_graph): expanded once
        children, unread = children_to_read(expanded, state.resources, objects, every=self.read_every_child,
                                            replace=replace)
        if children:
            with ThreadPoolExecutor(8, thread_name_prefix="read") as pool:
                objects.update(read_children(self.client, children, pool))
            self._confirm_child_absences(state.resources, children, objects)
        # What the plan was made from (`pull` writes the platform's values back from it).
        self.planned_from = Platform(remote, objects, unread)
        managed = {entry.id for entry in state.resources.values() if entry.kind == DEFAULT_KIND}
        foreign = self._foreign_owners(assistants, remote, managed)
        kept = left_alone(state, manifests, paths, self._project_root(), elsewhere)
        plan, resolved = plan_graph(expanded if not destroy else manifests, state, self.planned_from,
                                    expanded=not destroy,
                                    destroy=destroy, targets=targets, manifest_paths=paths,
                                    dialect=self.settings.api_dialect,
                                    foreign=foreign,
                                    foreign_objects=self._foreign_objects(expanded, objects),
                                    left_alone=kept,
                                    allow_mass_destroy=allow_mass_destroy, replace=replace, selector=selector,
                                    excluded=frozenset(selection.excluded))
        narrow(plan, selection, state, selector)
        if not destroy:  # (a destroy's paths leave nothing alone)
            refuse_breaking_left_alone(plan, state, kept)
        plan.weigh(state.resources)
        plan.allow_mass_forget = allow_mass_forget
        plan.replace_requested = sorted(replace)
        if plan.replace_requested and not destroy:
            # The selection (--exclude, -l) may have taken out a replacement the plan made: refused, not dropped (a
            # plan saved so would then be refused at apply, as one that does not replace what it was asked to).
            planned = {c.address for c in plan.changes}
            dropped = [r for r in plan.replace_requested if r not in planned]
            if dropped:
                raise PlanError([Problem(f"--replace {r}: the selection (--target, --exclude, -l) leaves it out, so "
                                         "it would not be replaced; select it too, or leave out this --replace",
                                         address=r) for r in dropped])
        if not destroy:
            checked = [m for m in resolved if not targets or m.address in plan.targets]
            by_id = {r.id: r for r in remote}
            # A number held by an assistant this plan deletes is free by the time creates run (deletes go first).
            released = {by_id[c.remote_id].fields.get("phone_number_id") for c in plan.changes
                        if c.action is Action.DELETE and c.kind == DEFAULT_KIND and c.remote_id in by_id} - {None}
            # Only an inbound assistant's number is checked against the one it holds (check_references).
            inbound = [m for m in resolved if m.spec.calls_direction == "receive"]
            problems = check_references(checked, self._catalog, self._held_numbers(inbound, remote, state), released)
            if problems:
                raise PlanError(problems)
        mark_moved(plan, move_records)
        plan.notes += move_notes
        if not destroy:
            plan.notes += rename_hints(plan, state) + namesake_notes(assistants, remote, state, managed, foreign)
        if self.settings.inputs is not None:
            plan.inputs = self.settings.inputs.to_dict()
        plan.workspace, plan.project = getattr(self.backend, "workspace", None), getattr(self.backend, "project", None)
        plan.platform = self.platform
        by_address = {m.address: m for m in manifests}
        for change in plan.changes:
            manifest = by_address.get(change.address)
            if manifest is not None and change.body:
                change.field_locations = FieldLocations.of(partial(_field_location, manifest), manifest.fields)
        return plan, {r.id for r in remote}

    def _project_root(self) -> str:
        """The folder state's recorded manifest files are relative to (provisioner.yaml's; else where the run is)."""
        inputs = self.settings.inputs
        return inputs.root if inputs is not None else "."

    def _foreign_owners(self, manifests: list[Manifest], remote: list[RemoteAssistant], managed: set[int]
                        ) -> dict[int, Owner]:
        """The platform ids a manifest could adopt by name that another workspace or project of the store
        manages (one query, for just those ids). `managed`: the assistant ids this state holds."""
        names = {m.spec.assistant_name for m in manifests}
        candidates = [r.id for r in remote if r.name in names and r.id not in managed]
        owners = getattr(self.backend, "owners", None)
        return owners(DEFAULT_KIND, candidates) if candidates and owners is not None else {}

    def _foreign_objects(self, manifests: list[Manifest], objects: dict) -> dict[tuple[str, int], Owner]:
        """As _foreign_owners, for the other kinds: (kind, id) -> its owner elsewhere in the store. `manifests`
        expanded: a knowledge base's documents are manifests of their own kind here."""
        owners = getattr(self.backend, "owners", None)
        if owners is None:
            return {}
        found: dict[tuple[str, int], Owner] = {}
        claimed_of: dict[str, set[int]] = {}  # kind -> the ids state holds of it (grouped once, not per kind)
        for address, entry in self.state.resources.items():
            if "." in address:  # by its kind, not its address's first part (a document's is its knowledge base's)
                claimed_of.setdefault(entry_kind(address, entry), set()).add(entry.id)
        kinds = set(objects)
        names_of: dict[str, set[str]] = {}
        for manifest in manifests:
            if manifest.kind in kinds:
                names_of.setdefault(manifest.kind, set()).add(manifest.platform_name)
        for kind, listed in objects.items():
            claimed = claimed_of.get(kind, set())
            names = names_of.get(kind, set())
            candidates = [o.id for o in listed if o.name in names and o.id not in claimed]
            if candidates:
                found.update({(kind, i): owner for i, owner in owners(kind, candidates).items()})
        return found

    def _held_numbers(self, manifests: list[Manifest], remote: list[RemoteAssistant],
                      state: State | None = None) -> dict[str, Any]:
        """address -> the phone number its assistant holds now: the one in state, else the namesake it adopts."""
        state = state or self.state
        if not manifests:
            return {}
        by_id = {r.id: r for r in remote}
        claimed = {entry.id for entry in state.resources.values()}
        held = {}
        unclaimed: dict[str, list[RemoteAssistant]] | None = None  # name -> those no entry claims (found once)
        for manifest in manifests:
            entry = state.resources.get(manifest.address)
            if entry is not None and entry.id in by_id:
                held[manifest.address] = by_id[entry.id].fields.get("phone_number_id")
            else:
                if unclaimed is None:
                    unclaimed = {}
                    for r in remote:
                        if r.id not in claimed:
                            unclaimed.setdefault(r.name, []).append(r)
                namesakes = unclaimed.get(manifest.spec.assistant_name, [])
                if len(namesakes) == 1:
                    held[manifest.address] = namesakes[0].fields.get("phone_number_id")
        return held

    def apply(self, plan: Plan, known_ids: set[int], *, on_result: Callable[[ChangeResult], None] | None = None,
              on_start=None, interrupt: threading.Event | None = None) -> ApplyReport:
        """`known_ids`: the assistants' ids when planning; the other kinds' are those the plan's reads listed."""
        from ..apply import StateRecorder, apply_plan  # a plan does not import the apply (nor its walk)

        lookups = self._catalog.lookups if self._catalog else Lookups()
        known = {DEFAULT_KIND: set(known_ids), **{kind: {o.id for o in objects}
                                                  for kind, objects in self.objects.items()}}
        # The lock was taken before planning; the prompt since may have lasted long enough for it to be lost. The
        # commits check it too, but only once changes are in flight: here, before anything is sent.
        self.backend.confirm_lock()
        self._refuse_adopted_elsewhere(plan)
        return apply_plan(plan, self.client, StateRecorder(self.backend, self.state), known_ids=known,
                          parallelism=self.settings.parallelism, on_result=on_result, on_start=on_start,
                          lookups=lookups, interrupt=interrupt, wait_timeout=self.settings.wait_timeout,
                          allow_replace=self.settings.allow_replace, on_progress=warn)

    def _refuse_adopted_elsewhere(self, plan: Plan) -> None:
        """What the plan adopts (an import, or a namesake adopted to be replaced) must still be nobody else's when the
        apply begins: the plan checked it, but another workspace or project of the store may have adopted it since (a
        plan saved hours before its apply, two pipelines planning at once), and two states would then manage one
        object. One look-up per kind, before anything is sent."""
        owners = getattr(self.backend, "owners", None)
        adopting: dict[str, dict[int, str]] = {}
        for change in plan.changes:
            held = self.state.resources.get(change.address)
            if change.remote_id is not None and (change.action is Action.IMPORT or change.replace) \
                    and (held is None or held.id != change.remote_id):
                adopting.setdefault(change.kind, {})[change.remote_id] = change.address
        if owners is None or not adopting:
            return
        taken = [f"{ids[remote_id]}: id {remote_id} is managed by {owner.describe()} of this state store, which "
                 "adopted it after this plan was made"
                 for kind, ids in sorted(adopting.items()) for remote_id, owner in sorted(owners(kind, ids).items())]
        if taken:
            raise StalePlanError("the plan is stale (one object has one owner):\n  " + "\n  ".join(taken)
                                 + "\nNothing was applied. Make a new plan.")

    def verify(self, report: ApplyReport) -> Verification:
        """Read back what `report` changed (verify.py); what the platform holds goes into state's records."""
        from ..verify import verify_apply

        lookups = self._catalog.lookups if self._catalog else Lookups()
        verification = verify_apply(report, self.client, self.state, lookups)
        if verification.mismatches:
            self.backend.write(self.state)
        return verification

    def check_saved_plan(self, plan: Plan) -> set[int]:
        """Refuse a plan that no longer fits the state or the platform; fill in its secrets; the known ids."""
        # The state of the project and workspace the plan was made for (each store names both).
        here = (getattr(self.backend, "project", None), getattr(self.backend, "workspace", None))
        for what, planned, current in (("project", plan.project, here[0]), ("workspace", plan.workspace, here[1])):
            if planned is not None and current is not None and planned != current:
                raise StalePlanError(f"the saved plan was made for {what} {planned!r}, not {current!r}; apply it "
                                     f"there, or make a new plan")
        # And for the platform it read: applied to another (another account's URL), its creates made objects
        # nobody reviewed there, and its ids named other objects.
        platform = self.platform
        if plan.platform is not None and plan.platform != platform:
            give = _platform_option(plan.platform)
            raise StalePlanError(f"the saved plan was made against the platform at {plan.platform}, and this run's "
                                 f"is {platform}; nothing was sent. Apply it there ({give}), or make a new plan")
        # A plan made before any state existed carries a lineage nobody saved; the serial still guards it. A state
        # that exists, even at serial 0 (`workspace new`), has its own lineage: another's plan is refused.
        if plan.lineage != self.state.lineage:
            if plan.serial or self.state.serial or getattr(self.backend, "exists", lambda: False)():
                raise StalePlanError(f"the saved plan was made for another state (lineage {plan.lineage}, this "
                                     f"state is {self.state.lineage}); make a new plan")
            # The state this apply makes is born with the plan's lineage: the same file applied again is then
            # refused for what happened (the state moved on since the plan), not as another state's plan.
            self.state.lineage = plan.lineage
        if plan.serial != self.state.serial:
            raise StalePlanError(f"the state changed since the plan was made (serial {plan.serial} -> "
                                 f"{self.state.serial}); make a new plan")
        # Its moves first (apply does them first): the changes are then checked against the state they make.
        moved = after_moves(self.state, plan.moves)
        conflicts = saved_moves_conflicts(plan.moves, self.state) or \
            conflicts_with_state(plan, moved)  # a tampered plan: refused first
        if conflicts:
            raise StalePlanError("the saved plan does not fit the state it would change:\n  "
                                 + "\n  ".join(conflicts) + "\nNothing was applied. Make a new plan.")
        # What the guards weigh, from this state rather than the file: a hand-edited count cannot lift them.
        plan.weigh(moved.resources)
        kinds = tuple(sorted({c.kind for c in plan.changes} - {DEFAULT_KIND}))
        remote = {r.id: r for r in self.remote(engines=tuple(c.engine_type for c in plan.changes if c.engine_type),
                                               kinds=kinds)}
        # Children (documents) are listed under their parent, whose id each change's body holds; or, where the plan
        # replaces the parent (its body names the new one by a marker), under the old one, where they still are.
        by_address = {c.address: c for c in plan.changes}
        children = [c for c in plan.changes if c.kind in KINDS and KINDS[c.kind].parent_field]
        parents = {c.address.rsplit(".", 1)[0]: (c.kind, _parent_id(c, by_address)) for c in children}
        # A child moved to another parent (a document's moved block) is replaced: its old self is under the old one.
        parents.update({f"{c.address} (moved from {was})": (c.kind, was) for c in children
                        if (was := moved_from(c)) is not None})
        parents = {a: (k, i) for a, (k, i) in parents.items() if isinstance(i, int) and not isinstance(i, bool)}
        if parents:
            with ThreadPoolExecutor(8, thread_name_prefix="read") as pool:
                self.objects.update(read_children(self.client, parents, pool))
        # Ids are per kind: each change is checked against its own kind's list and state entries.
        lists = {DEFAULT_KIND: remote, **{k: {o.id: o for o in objects} for k, objects in self.objects.items()}}
        claimed: dict[str, set[int]] = {}
        for address, entry in self.state.resources.items():
            claimed.setdefault(address.split(".", 1)[0] if "." in address else DEFAULT_KIND, set()).add(entry.id)
        stale = []
        for change in plan.changes:
            objects = lists.get(change.kind, {})
            live = objects.get(change.remote_id) if change.remote_id is not None else None
            held = moved.resources.get(change.address)
            if held is not None and change.action in (Action.CREATE, Action.IMPORT) \
                    and (not change.replace or change.remote_id != held.id) and held.id in objects:
                # Planned as gone (another account's token, a list that left it out): it is there.
                again = "creating it again" if change.action is Action.CREATE and not change.replace \
                    else "adopting another"
                stale.append(f"{change.address}: id {held.id}, which the state holds for it, is on the platform; "
                             f"{again} would make a duplicate")
            elif change.action is Action.CREATE and not change.replace:
                if any(r.name == change.assistant_name and r.id not in claimed.get(change.kind, set())
                       for r in objects.values()):
                    article = "an" if change.kind[:1] in "aeiou" else "a"
                    stale.append(f"{change.address}: {article} {change.kind} named {change.assistant_name!r} appeared on "
                                 "the platform since the plan; creating another would duplicate it")
            elif change.action is Action.FORGET:
                if live is not None:
                    stale.append(f"{change.address}: id {change.remote_id} is back on the platform")
            elif live is None:
                stale.append(f"{change.address}: id {change.remote_id} is gone from the platform")
            elif change.fingerprint_of(live.item) != change.fingerprint():
                stale.append(f"{change.address}: id {change.remote_id} changed on the platform since the plan")
            elif change.remote_item is None:
                # As planned (a file keeps its digest only): what an adoption claims before its update (apply._claim).
                change.remote_item = live.item
        stale += changed_document_files(plan)
        if stale:
            raise StalePlanError("the saved plan is stale:\n  " + "\n  ".join(stale) + "\nMake a new plan.")
        restore_secrets(plan, self.settings)
        return set(remote)


def _parent_id(change, changes: dict[str, Any]) -> Any:
    """The id of the parent `change` (a child's) is listed under: its body's, else that of the parent the plan
    replaces (a marker in the body names the new one, made by the apply; the child's old self is under the old)."""
    parent_id = change.body.get(KINDS[change.kind].parent_field)
    parent = changes.get(change.address.rsplit(".", 1)[0])
    if isinstance(parent_id, dict) and parent is not None and parent.replace:
        return parent.remote_id
    return parent_id


def _second_look(kind: str, missing: set[int], again: list, where: str = "") -> None:
    """Stop the run when a second read (`again`, the kind's platform items) shows objects the first left out."""
    back = sorted(missing & {item.get("id") for item in again if isinstance(item, dict)})
    if back:
        title = "assistant" if kind == DEFAULT_KIND else KINDS[kind].title
        shown = ", ".join(str(i) for i in back[:10]) + (f" and {len(back) - 10} more" if len(back) > 10 else "")
        raise ApiError(f"the platform's list of {title}s{where} left out {len(back)} object(s) that state holds (id "
                       f"{shown}) and that a second read shows: the list changed while it was read, or answered "
                       "only part of it. Nothing was decided from it; run again")


def _field_location(manifest: Manifest, name: str) -> str:
    """file:line of a spec field of `manifest` (a change's field_locations, found when first read)."""
    return str(manifest.location("spec", name))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def namesake_notes(manifests: list[Manifest], remote: list[RemoteAssistant], state: State, managed: set[int],
                   foreign: dict[int, Owner]) -> list[str]:
    """Assistants on the platform with a managed assistant's name that no workspace of this store manages: most
    often what a run interrupted between a create and its record, or racing another run, left behind. A plan
    that said "No changes" about them hid the duplicates; they are named here (never deleted or adopted).
    `managed`: the assistant ids `state` holds."""
    names = {m.spec.assistant_name: m.address for m in manifests if m.address in state.resources}
    strays: dict[str, list[int]] = {}
    for item in remote:
        if item.name in names and item.id not in managed and item.id not in foreign:
            strays.setdefault(names[item.name], []).append(item.id)
    notes = []
    for address, ids in sorted(strays.items())[:10]:
        shown = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        notes.append(f"{address}: {len(ids)} other assistant(s) on the platform have its name but no state manages "
                     f"them (id {shown}): left by an interrupted or concurrent run? Delete them, or `provisioner "
                     f"import` one in its place.")
    if len(strays) > 10:
        notes.append(f"... and {len(strays) - 10} more managed assistant(s) have unmanaged namesakes.")
    return notes
