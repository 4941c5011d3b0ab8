"""The renderers, by format. Each module registers itself with `@renderer`; adding a
format is one new module here (and its import at the bottom of this file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pgvitals.report import Report

Render = Callable[[Report], str]


@dataclass(frozen=True)
class Renderer:
    format: str
    suffixes: tuple[str, ...]  # file suffixes that pick this format with -o
    render: Render


RENDERERS: dict[str, Renderer] = {}


def renderer(fmt: str, *suffixes: str) -> Callable[[Render], Render]:
    def register(render: Render) -> Render:
        RENDERERS[fmt] = Renderer(fmt, suffixes, render)
        return render

    return register


from pgvitals.render import html, json, md, sarif, text  # noqa: E402, F401  (registers the renderers)
