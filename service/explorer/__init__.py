"""The attention explorer: a page served by the service itself (``/explorer``; ``/``
redirects there) that calls the live ``/v1`` API from the browser and draws every attention
map as a heatmap.

Plain HTML, CSS and JavaScript modules shipped in ``static/``: nothing to build, nothing
fetched from the internet (the Content-Security-Policy allows this origin only).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"

# Scripts, styles and API calls from this origin only; PNG downloads are blob: URLs.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install(app: FastAPI) -> None:
    """``GET /explorer`` (the page), ``/explorer/static/*`` (its assets), ``GET /`` → page."""
    # Relative URLs throughout: the page keeps working behind a path prefix (root_path).
    app.mount("/explorer/static", StaticFiles(directory=STATIC), name="explorer-static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def home(request: Request) -> RedirectResponse:
        query = request.url.query  # e.g. ?model=en-fr picks the model
        return RedirectResponse(f"explorer?{query}" if query else "explorer", status_code=307)

    @app.api_route("/explorer", methods=["GET", "HEAD"], include_in_schema=False)
    async def explorer() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)
