"""The API documentation page, Swagger UI at ``/docs``, with its script, styles and icon
served by the service itself.

FastAPI's own page loads Swagger UI from a CDN, so it is blank on a machine without
internet access. The copies here come from the pinned ``fastapi-offline`` package
(Swagger UI 5, which reads OpenAPI 3.1); nothing on the page names another origin. ReDoc
is not offered: its bundle fetches its logo from its vendor's CDN.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(str(files("fastapi_offline") / "static"))
ASSETS = {  # what the page loads, and nothing else of the package
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def install(app: FastAPI) -> None:
    """``GET /docs`` and ``GET /docs/static/{name}``; create the app with ``docs_url=None,
    redoc_url=None`` so that FastAPI's CDN pages are not installed too."""
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi}",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{root}/docs/static/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/static/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/static/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get("/docs/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, f"no docs asset {name!r}")
        return FileResponse(
            STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"}
        )
