"""The browsable API page: Swagger UI over /openapi.json, at /docs (GET / redirects there).

Swagger UI's files come from the swagger-ui-py package (a PyPI wheel): nothing is fetched from
a CDN at run time, and no validator is called.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from aiohttp import web

ASSETS = Path(str(files("swagger_ui") / "static"))
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>bucketd API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      persistAuthorization: true,
    });
  </script>
</body>
</html>
"""


async def docs_page(_: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def to_docs(_: web.Request) -> web.Response:
    raise web.HTTPFound("/docs")


def add_docs(app: web.Application) -> None:
    app.router.add_get("/", to_docs)
    app.router.add_get("/docs", docs_page)
    app.router.add_static("/docs/static", ASSETS)
