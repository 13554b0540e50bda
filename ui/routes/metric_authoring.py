"""Writing metrics: the editor (a new metric or a new revision), and proposing or
withdrawing one.

The form reads like a definition document: the view (chosen from the views and
datasets the author may discover), the expression (beside the view's columns),
filters, the time dimension and grains, dimensions, unit, format, owner and
description. Every rule is the catalog's: ``MetricCatalog.workflow`` checks the
definition against its view (``Workflow.check``, ``create``, ``revise``) and
who may write, propose or withdraw, as for the API and the CLI; a refused
definition comes back on the form with the catalog's message, its field and,
for SQL, the line, column and caret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response

from access import Resource
from lake.errors import InvalidInput, LakegateError, NotFound
from metrics_catalog import Grain, InvalidMetric, MetricDefinition, ValueFormat, parse_definition
from metrics_catalog.lifecycle import allowed_actions
from metrics_catalog.sources import Source
from metrics_catalog.workflow import Workflow
from ui import services
from ui.routing import Me, Posted, UiRoute, form_outcome, in_thread
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render
from ui.visibility import discoverable, not_found_message, require_discover

router = APIRouter(prefix=f"{UI_PREFIX}/metrics", route_class=UiRoute, include_in_schema=False)

#: Outcomes the editor announces after a redirect (fixed texts).
DONE = {"saved": "Saved. Propose it when it is ready for review."}
#: What the editor's buttons ask for: show the chosen view's columns, check the definition, or save it.
INTENTS = ("columns", "check", "save")
GRAINS = tuple(g.value for g in Grain)
FORMATS = tuple(f.value for f in ValueFormat)


@dataclass
class Draft:
    """The editor's fields, as typed (text and lists of text)."""

    name: str = ""
    view: str = ""
    expression: str = ""
    filters: str = ""
    time_dimension: str = ""
    dimensions: list[str] = field(default_factory=list)
    grains: list[str] = field(default_factory=lambda: list(GRAINS))
    unit: str = ""
    format: str = ValueFormat.NUMBER.value
    owner: str = ""
    description: str = ""
    message: str = ""

    @classmethod
    def of(cls, d: MetricDefinition) -> Draft:
        return cls(name=d.name, view=d.view, expression=d.expression, filters="\n".join(d.filters),
                   time_dimension=d.time_dimension, dimensions=list(d.dimensions),
                   grains=[g.value for g in d.grains], unit=d.unit, format=d.format.value, owner=d.owner,
                   description=d.description)

    def document(self) -> dict[str, Any]:
        """The definition document the catalog parses (blank text fields are left out, so the
        catalog names them as missing)."""
        doc: dict[str, Any] = {
            "name": self.name.strip(), "view": self.view.strip(), "expression": self.expression,
            "filters": [line.strip() for line in self.filters.splitlines() if line.strip()],
            "time_dimension": self.time_dimension.strip(), "dimensions": [d for d in self.dimensions if d],
            "grains": list(self.grains), "unit": self.unit.strip(), "format": self.format,
            "owner": self.owner.strip(), "description": self.description,
        }
        return {k: v for k, v in doc.items() if not (isinstance(v, str) and not v.strip() and k != "unit")}


@dataclass(frozen=True)
class Choice:
    """A view or dataset the author may build a metric over."""

    name: str
    kind: str
    version: int


def _choices(request: Request, user: str) -> list[Choice]:
    """Views and datasets ``user`` may discover, views first."""
    from views import catalog as view_catalog

    lake = services.lake_of(request)
    control = services.access(request)
    out = [Choice(v.name, "view", v.version) for v in view_catalog.list_views(lake)
           if discoverable(control, user, Resource.view(v.name))]
    out += [Choice(d.name, "dataset", d.major) for d in lake.datasets.list()
            if discoverable(control, user, Resource.table(d.name))]
    return out


def _source(request: Request, user: str, name: str, version: int | None) -> tuple[Source | None, str]:
    """The chosen view's columns (as the catalog validates against them), or why there are none.

    A view or dataset the author may not discover is answered as a missing one.
    """
    if not name.strip():
        return None, ""
    control = services.access(request)
    try:
        kinds = (Resource.view(name), Resource.table(name))
    except InvalidInput as exc:
        return None, exc.message
    if not any(discoverable(control, user, r) for r in kinds):
        return None, f"there is no view or dataset named {name} that you can see"
    try:
        return services.metrics(request).workflow.resolver.resolve(name, version), ""
    except LakegateError as exc:
        return None, exc.message


def _hidden_view(request: Request, user: str, draft: Draft) -> InvalidMetric | None:
    """A refusal worded as for a missing view when the chosen one is hidden from ``user`` (the catalog's
    messages would otherwise list a hidden view's columns)."""
    name = draft.view.strip()
    if not name:
        return None
    control = services.access(request)
    try:
        kinds = (Resource.view(name), Resource.table(name))
    except InvalidInput:
        return None  # the catalog names the malformed name
    if any(discoverable(control, user, r) for r in kinds):
        return None
    return InvalidMetric(draft.name or "?", "view", f"there is no view or dataset named {name} that you can see")


def editor_page(request: Request, me: UiSessionInfo, draft: Draft, *, name: str | None = None,
                pinned: int | None = None, error: InvalidMetric | None = None, checked: MetricDefinition | None = None,
                flash: str = "", flash_tone: str = "ok", status_code: int = 200) -> Response:
    """The editor: a new metric (``name`` is ``None``) or a new revision of ``name``."""
    info = services.metrics(request).workflow.get(name) if name is not None else None
    same_view = info is not None and draft.view == info.definition.view
    source, source_error = _source(request, me.user, draft.view, pinned if same_view else None)
    workflow = services.metrics(request).workflow
    return render(request, "metric_editor.html", {
        "editing": True, "may_edit": name is not None and workflow.may_edit(name, actor=me.user),
        "allowed": allowed_actions(info.status) if info is not None else [],
        "draft": draft, "name": name, "info": info, "source": source, "source_error": source_error,
        "choices": _choices(request, me.user), "grains": GRAINS, "formats": FORMATS, "error": error,
        "checked": checked, "flash": flash, "flash_tone": flash_tone,
        "action": f"{UI_PREFIX}/metrics/new" if name is None else f"{UI_PREFIX}/metrics/{name}/edit",
    }, status_code=status_code, section="search")


def _editable(request: Request, me: UiSessionInfo, name: str) -> MetricDefinition:
    """The current definition of ``name`` (404 as for a missing metric when hidden)."""
    try:
        resource = Resource.metric(name)
    except InvalidInput:
        raise NotFound(f"there is no metric named {name}") from None
    require_discover(services.access(request), me.user, resource)
    try:
        return services.metrics(request).workflow.get(name).definition
    except NotFound:
        raise NotFound(not_found_message(resource)) from None


@router.get("/new")
def new_metric(request: Request, me: Me, view: Annotated[str, Query(max_length=200)] = "") -> Response:
    """An empty editor (over ``view`` when given)."""
    return editor_page(request, me, Draft(view=view))


@router.get("/{name}/edit")
def edit_metric(request: Request, me: Me, name: str,
                done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The editor over the current revision; saving makes the next one."""
    definition = _editable(request, me, name)
    return editor_page(request, me, Draft.of(definition), name=name, pinned=definition.view_version,
                       flash=DONE.get(done or "", ""))


FormText = Annotated[str, Form(max_length=20000)]
FormShort = Annotated[str, Form(max_length=200)]
FormList = Annotated[list[str], Form(max_length=200)]


async def _submit(request: Request, me: UiSessionInfo, draft: Draft, intent: str, name: str | None) -> Response:
    workflow = services.metrics(request).workflow
    pinned = None
    if name is not None:
        old = await in_thread(_editable, request, me, name)
        pinned = old.view_version
        draft.name = name
    if intent not in INTENTS:
        raise InvalidInput(f"unknown editor action {intent!r}; expected one of: {', '.join(INTENTS)}")
    if intent == "columns":
        return await in_thread(editor_page, request, me, draft, name=name, pinned=pinned)
    hidden = _hidden_view(request, me.user, draft)
    if hidden is not None:
        return await in_thread(editor_page, request, me, draft, name=name, pinned=pinned, error=hidden,
                               status_code=hidden.http_status)
    refusal: list[InvalidMetric] = []

    def page(message: str, status: int) -> Response:
        error = refusal[0] if refusal else None
        return editor_page(request, me, draft, name=name, pinned=pinned, error=error,
                           flash="" if error else message, flash_tone="bad", status_code=status)

    def checked(call: Any) -> Any:
        try:
            return call()
        except InvalidMetric as exc:
            refusal.append(exc)
            raise

    if intent == "check":
        def check() -> Response:
            definition = checked(lambda: workflow.check(parse_definition(_as_definition(draft, name, workflow))))
            return editor_page(request, me, draft, name=name, pinned=pinned, checked=definition)

        try:
            return await in_thread(check)
        except InvalidMetric as exc:
            return await in_thread(page, exc.message, exc.http_status)
    target = draft.name.strip() or "?"
    if name is None:
        call = lambda: checked(lambda: workflow.create(draft.document(), actor=me.user, message=draft.message))  # noqa: E731
    else:
        call = lambda: checked(lambda: workflow.revise(name, _changes(draft), actor=me.user,  # noqa: E731
                                                       message=draft.message))
    return await form_outcome(call, done=f"{UI_PREFIX}/metrics/{name or target}/edit?done=saved", refused=page,
                              error_pages=(NotFound,) if name is not None else ())


def _changes(draft: Draft) -> dict[str, Any]:
    """A revision's fields from the editor (a blank owner keeps the current one)."""
    doc = draft.document()
    doc.pop("name", None)
    for key in ("filters", "dimensions"):
        doc.setdefault(key, [])
    doc.setdefault("description", "")
    return doc


def _as_definition(draft: Draft, name: str | None, workflow: Workflow) -> dict[str, Any]:
    """The whole definition a save would make (for an edit: the current one with the editor's changes)."""
    if name is None:
        return draft.document()
    current = workflow.get(name).definition
    return current.with_changes(_changes(draft)).to_dict() | (
        {"view_version": None} if draft.view.strip() != current.view else {})


def _posted_draft(
    view: FormShort = "", expression: FormText = "", filters: FormText = "",
    time_dimension: FormShort = "", dimensions: FormList = [],  # noqa: B006 (FastAPI copies defaults)
    grains: FormList = [],  # noqa: B006
    unit: FormShort = "", format: FormShort = ValueFormat.NUMBER.value, owner: FormShort = "",
    description: FormText = "", message: FormText = "",
) -> Draft:
    """The editor's fields as posted (the name is set by the route: its own field, or the path's)."""
    return Draft(view=view, expression=expression, filters=filters, time_dimension=time_dimension,
                 dimensions=dimensions, grains=grains, unit=unit, format=format, owner=owner,
                 description=description, message=message)


PostedDraft = Annotated[Draft, Depends(_posted_draft)]


@router.post("/new")
async def create_metric(request: Request, me: Posted, draft: PostedDraft, name: FormShort = "",
                        intent: FormShort = "save") -> Response:
    """Check or save a new metric (a draft, revision 1)."""
    draft.name = name
    return await _submit(request, me, draft, intent, None)


@router.post("/{name}/edit")
async def revise_metric(request: Request, me: Posted, name: str, draft: PostedDraft,
                        intent: FormShort = "save") -> Response:
    """Check or save the next revision of ``name``."""
    draft.name = name
    return await _submit(request, me, draft, intent, name)


async def _transition(request: Request, me: UiSessionInfo, name: str, action: str, call: Any) -> Response:
    from ui.routes.metrics import metric_page

    await in_thread(_editable, request, me, name)
    return await form_outcome(call, done=f"{UI_PREFIX}/metrics/{name}?done={action}#chain",
                              refused=lambda message, status: metric_page(
                                  request, me, name, flash=message, flash_tone="bad", status_code=status),
                              error_pages=(NotFound,))


@router.post("/{name}/propose")
async def propose(request: Request, me: Posted, name: str, message: FormText = "") -> Response:
    """Submit the draft (or the changed proposal) to the domain's approval chain."""
    workflow = services.metrics(request).workflow
    return await _transition(request, me, name, "propose",
                             lambda: workflow.propose(name, actor=me.user, message=message))


@router.post("/{name}/withdraw")
async def withdraw(request: Request, me: Posted, name: str, reason: FormText = "") -> Response:
    """Take the proposal out of its chain, back to draft."""
    workflow = services.metrics(request).workflow
    return await _transition(request, me, name, "withdraw",
                             lambda: workflow.withdraw(name, actor=me.user, reason=reason))
