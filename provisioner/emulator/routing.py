"""The platform routes' router: Starlette's, remembering which route a method and path went to.

Starlette's router tries its routes in order, a regular expression each, until one matches in full: some forty
before a document's GET. A client asks the same method and path again and again (a document polled until it is
processed, the pages of a list, the creates), so the route it reached is remembered, and the next time only
that route is asked to match (for its path parameters). Whatever is not a full match (an unknown path, a method
the path does not take) goes through Starlette's own loop, as does every path the first time.
"""
from __future__ import annotations

from starlette._utils import get_route_path
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

REMEMBERED = 100_000  # paths remembered (ids make them many); beyond it they are forgotten and learned again


class RememberingRouter(Router):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reached: dict[tuple[str, str], object] = {}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        key = (scope["method"], get_route_path(scope))
        route = self._reached.get(key)
        if route is not None:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:  # always: the route matched this method and path before
                scope.setdefault("router", self)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        before = scope.get("route")
        await super().app(scope, receive, send)
        # The route Starlette's loop chose (it records it in the scope), when it was a full match of its own.
        chosen = scope.get("route")
        if chosen is not before and chosen in self.routes and chosen.matches(scope)[0] is Match.FULL:
            if len(self._reached) >= REMEMBERED:
                self._reached.clear()
            self._reached[key] = chosen
