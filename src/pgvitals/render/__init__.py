"""The renderers, by format. Each module registers itself with `@renderer`; adding a
format is one new module here (and its import at the bottom of this file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pgvitals.report import Report

Render = Callable[[Report], str]
Pieces = Callable[[Report], Iterable[str]]


@dataclass(frozen=True)
class Renderer:
    format: str
    suffixes: tuple[str, ...]  # file suffixes that pick this format with -o
    render: Render
    # the document in pieces, for a format large enough at scale to write as it is made
    pieces: Pieces | None = None

    def document(self, report: Report) -> Iterable[str]:
        return self.pieces(report) if self.pieces else (self.render(report),)


RENDERERS: dict[str, Renderer] = {}


def renderer(fmt: str, *suffixes: str, pieces: Pieces | None = None) -> Callable[[Render], Render]:
    def register(render: Render) -> Render:
        RENDERERS[fmt] = Renderer(fmt, suffixes, render, pieces)
        return render

    return register


from pgvitals.render import html, json, md, sarif, text  # noqa: E402, F401  (registers the renderers)
