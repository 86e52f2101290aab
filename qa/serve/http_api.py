"""The JSON HTTP API beside the chat page: one request per call, for programs.

    POST /api/ask         {"question", "k", "mode", "filters", "history"} -> the object `qa ask --json` prints
    GET  /api/documents   the documents of the live index, a page at a time (?offset=0&limit=100)
    GET  /api/status      what the index holds and whether a rebuild is running
    GET  /openapi.json    the OpenAPI description of these routes (and of nothing else on the server)

The routes are served by the page's own server (``qa.serve.app.launch`` hands them to Gradio's FastAPI app), so
they answer from the same ``Workspace`` as the page. With ``--auth`` they take the same login: HTTP Basic with the
page's user and password (``curl -u USER:PASSWORD``), or the session cookie of a login on the page. An error is
``{"error": "<one line: the problem and the fix>"}`` with a 4xx status (5xx only for a bug, logged on the server).

Routes are plain ``def``s: FastAPI runs them in its thread pool, so questions from several clients are answered at
once, as far as the model, FAISS and BM25 let go of the GIL.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from qa.errors import IndexBusyError, IndexCorruptError, IndexMissingError, QAError
from qa.serve.api_schema import (
    MAX_DOCUMENTS_PAGE,
    AskRequest,
    AskResult,
    DocumentsPage,
    ErrorOut,
    Status,
)
from qa.serve.workspace import Workspace
from qa.settings import MODES

log = logging.getLogger("qa.serve.api")
API_VERSION = "1"
LOGIN_HINT = ("sign in: send the server's --auth login as HTTP Basic (curl -u USER:PASSWORD), or log in on the "
              "page first")
NOT_JSON = ('invalid request: the body is not JSON: send an object such as {"question": "..."} in UTF-8 with '
            "Content-Type: application/json")
ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 409, 422)}
# The server's state, not the request, stands in the way: 409 Conflict (rebuild, add documents, then ask again).
STATE_ERRORS = (IndexMissingError, IndexCorruptError, IndexBusyError)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    """The first problem pydantic found, as one line naming the field: ``k: Input should be ...``."""
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return NOT_JSON
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    return (f"invalid request: {where + ': ' if where else ''}{first.get('msg', 'malformed')}: "
            "see /openapi.json for the fields and their types")


class ApiRoute(APIRoute):
    """A route whose every error is ``{"error": one line}``: bad JSON and bad fields, qa's own errors, a bug."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return error_response(exc.status, str(exc), exc.headers)
            except RequestValidationError as exc:
                return error_response(422, validation_message(exc))
            except HTTPException as exc:  # FastAPI's own: 400 is a body it could not even decode
                return error_response(exc.status_code, NOT_JSON if exc.status_code == 400 else str(exc.detail))
            except QAError as exc:
                return error_response(409 if isinstance(exc, STATE_ERRORS) else 400, str(exc))
            except Exception as exc:
                log.exception("unexpected error in the JSON API")
                return error_response(500, f"unexpected error ({type(exc).__name__}); the details are in the "
                                           "server log")

        return answer


def basic_login(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic dXNlcjpwdw==`` -> ``("user", "pw")``; None for anything else.

    >>> basic_login("Basic " + base64.b64encode(b"ana:s3:cret").decode()), basic_login("Bearer x")
    (('ana', 's3:cret'), None)
    """
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def page_user(request: Request) -> str | None:
    """The user signed in on the page, from the session cookie Gradio's /login sets (its App keeps the tokens)."""
    app = request.scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not tokens or cookie_id is None:
        return None
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}")
    return tokens.get(token) if token else None


def signed_in(request: Request, credentials: tuple[str, str] | None) -> bool:
    """Whether ``request`` may use the API: no login is set, or it carries the login or a page session."""
    if credentials is None:
        return True
    sent = basic_login(request.headers.get("authorization"))
    if sent is not None:
        # subtle: compare both parts, always, in constant time: no early exit tells which part was wrong
        user_ok = secrets.compare_digest(sent[0].encode(), credentials[0].encode())
        password_ok = secrets.compare_digest(sent[1].encode(), credentials[1].encode())
        if user_ok and password_ok:
            return True
    return page_user(request) == credentials[0]


def login_dependency(credentials: tuple[str, str] | None) -> Callable[[Request], None]:
    def require_login(request: Request) -> None:
        if not signed_in(request, credentials):
            raise ApiError(401, LOGIN_HINT, {"WWW-Authenticate": 'Basic realm="qa"'})

    return require_login


def status(workspace: Workspace) -> dict[str, Any]:
    """``GET /api/status``: the live index (``ready`` false while there is none) and the search defaults."""
    info = workspace.info() or {}
    settings = workspace.settings
    return {"ready": bool(info), "building": workspace.building, "index": str(workspace.index_dir),
            "generation": info.get("generation"), "documents": info.get("documents", 0),
            "chunks": info.get("chunks", 0), "model": info.get("model"), "built_at": info.get("built_at"),
            "modes": list(MODES), "default_mode": workspace.default_mode, "default_k": settings.default_k,
            "max_k": settings.max_k}


def documents_page(workspace: Workspace, offset: int, limit: int) -> dict[str, Any]:
    """``GET /api/documents``: documents ``offset`` to ``offset + limit`` of the live generation, in index order."""
    data = workspace.live_assistant().data
    rows = data.documents[offset:offset + limit]
    return {"generation": data.generation, "total": len(data.documents), "offset": offset, "documents": [
        {"doc_id": d.doc_id, "file": d.path, "source": d.source, "title": d.title, "publisher": d.publisher,
         "date": d.date, "url": d.url, "characters": len(d.text)} for d in rows]}


def api_router(workspace: Workspace, credentials: tuple[str, str] | None) -> APIRouter:
    """The /api routes over ``workspace``, each behind ``credentials`` (None: open)."""
    router = APIRouter(route_class=ApiRoute, dependencies=[Depends(login_dependency(credentials))],
                       responses={401: ERRORS[401]}, tags=["qa"])

    @router.post("/api/ask", response_model=None, responses={200: {"model": AskResult}, **ERRORS})
    def ask(request: AskRequest) -> JSONResponse:
        """Answer a question from the index: the object `qa ask --json` prints."""
        result = workspace.ask(request.question, request.k, mode=request.mode, filters=request.filter_dict(),
                               history=request.history_list())
        return JSONResponse(result.to_dict())

    @router.get("/api/documents", response_model=None, responses={200: {"model": DocumentsPage}, **ERRORS})
    def documents(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=MAX_DOCUMENTS_PAGE)
                  ) -> JSONResponse:
        """The documents the live index holds, ``limit`` at a time from ``offset``."""
        return JSONResponse(documents_page(workspace, offset, limit))

    @router.get("/api/status", response_model=None, responses={200: {"model": Status}, **ERRORS})
    def get_status() -> JSONResponse:
        """What the index holds, whether a rebuild is running, and the search defaults."""
        return JSONResponse(status(workspace))

    description = openapi_description(router)

    @router.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(description)

    return router


def openapi_description(router: APIRouter) -> dict[str, Any]:
    return get_openapi(title="qa", version=API_VERSION, routes=router.routes,
                       description="Ask questions over a folder of documents: extractive answers with their sources.")
