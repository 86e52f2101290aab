"""The MCP server of `qa serve --mcp`: agents and desktop assistants search the user's documents through it.

Three tools, with input and output schemas, returning the JSON of the HTTP API:

* ``ask``: question (k, mode, filters, history) -> the object `qa ask --json` prints (answer sentence + passages)
* ``search``: the same, passages only (no answer sentence is picked)
* ``open_document``: the text of a document around a span (a passage's ``doc_id``, ``start``, ``end``)

Served over Streamable HTTP at ``/mcp`` by the page's own server (``qa.serve.app.launch``), stateless and with
plain JSON responses, behind the same login as the JSON API (``qa.serve.http_api.signed_in``).

Why the official ``mcp`` SDK and not Gradio's ``mcp_server=True``: Gradio turns every API endpoint into a tool,
named after the endpoint and described from a docstring, and the search and the document text would have had to
become Gradio endpoints too, visible to ``gradio_client`` beside ``/ask``. The SDK gives each tool its own name,
description and pydantic input/output schema, the same models ``/openapi.json`` describes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.errors import QAError
from qa.serve.api_schema import AskFilters, AskResult, Mode, Turn, _Response
from qa.serve.http_api import LOGIN_HINT, signed_in
from qa.serve.workspace import Workspace
from qa.settings import DEFAULT

MCP_PATH = "/mcp"
INSTRUCTIONS = ("Searches the user's own documents (reports, articles, notes) on this machine. Answers are quoted "
                "from the documents, never generated: each passage names its source and file; `open_document` "
                "reads more of a document around a passage.")

Question = Annotated[str, Field(description="the question, in words")]
K = Annotated[int | None, Field(ge=1, le=DEFAULT.max_k, description=f"passages (default {DEFAULT.default_k})")]
SearchMode = Annotated[Mode | None, Field(description="dense (meaning), lexical (exact words) or hybrid (both, "
                                                      "the default)")]


class SearchResult(_Response):
    """The passages found for a question, without an answer sentence."""

    question: str
    passages: list[dict[str, Any]]
    mode: Mode
    generation: str | None


class ExcerptOut(_Response):
    """``text`` is the document's characters ``text_start`` to ``text_end``; the span asked for is
    ``text[start - text_start:end - text_start]``."""

    doc_id: str
    file: str
    source: str
    title: str
    publisher: str | None
    date: str | None
    url: str | None
    start: int
    end: int
    text_start: int
    text_end: int
    length: int
    page: int | None
    section: str | None
    text: str


def mcp_server(workspace: Workspace) -> Any:
    """The MCP server with its three tools over ``workspace``."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    # log_level: the SDK's INFO lines (every HTTP request, rich-formatted) would drown qa serve's own terminal output
    server = MCPServer("qa", instructions=INSTRUCTIONS, log_level="WARNING")

    def answered(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call()
        except QAError as exc:  # the one line, as the CLI and the API give it
            raise ToolError(str(exc)) from None

    def filter_dict(filters: AskFilters | None) -> dict[str, Any]:
        return filters.model_dump(exclude_none=True) if filters else {}

    @server.tool(name="ask", title="Ask the documents")
    def ask(question: Question, k: K = None, mode: SearchMode = None, filters: AskFilters | None = None,
            history: list[Turn | str] | None = None) -> AskResult:
        """Answer a question from the user's documents: the sentence that answers it (or null) and the best
        passages, one per document, each with its source, file and character offsets."""
        turns = [t.model_dump() if isinstance(t, Turn) else t for t in history or ()]
        return answered(lambda: workspace.ask(question, k, mode=mode, filters=filter_dict(filters),
                                              history=turns).to_dict())

    @server.tool(name="search", title="Search the documents")
    def search(question: Question, k: K = None, mode: SearchMode = None,
               filters: AskFilters | None = None) -> SearchResult:
        """Find the passages of the user's documents that best match a question, one per document, each with
        its source, file and character offsets (no answer sentence)."""
        def passages() -> dict[str, Any]:
            found = workspace.ask(question, k, mode=mode, filters=filter_dict(filters), answer=False).to_dict()
            return {key: value for key, value in found.items() if key != "answer"}

        return answered(passages)

    @server.tool(name="open_document", title="Read a document around a passage")
    def open_document(doc_id: Annotated[str, Field(description="a passage's doc_id")],
                      start: Annotated[int, Field(ge=0, description="a passage's start (offset in characters)")] = 0,
                      end: Annotated[int | None, Field(ge=0, description="a passage's end (default: start)")] = None,
                      context: Annotated[int, Field(ge=0, le=20_000, description="characters either side")] = 1000,
                      ) -> ExcerptOut:
        """The text of a document around a span, e.g. a passage that ask or search returned."""
        return answered(lambda: workspace.excerpt(doc_id, start, end, context=context).to_dict())

    return server


class _LoginRequired:
    """The MCP endpoint behind the API's login (HTTP Basic or a page session)."""

    def __init__(self, app: ASGIApp, credentials: tuple[str, str] | None):
        self.app, self.credentials = app, credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not signed_in(Request(scope), self.credentials):
            response = JSONResponse({"error": LOGIN_HINT}, status_code=401,
                                    headers={"WWW-Authenticate": 'Basic realm="qa"'})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mcp_routes(server: Any, credentials: tuple[str, str] | None, *, host: str) -> list[Route]:
    """The route serving ``server`` at /mcp. ``host``: the address served on; on loopback the SDK refuses
    requests whose Host or Origin is not loopback (DNS rebinding)."""
    inner = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                       host=host)
    return [Route(MCP_PATH, _LoginRequired(route.endpoint, credentials))
            for route in inner.routes if isinstance(route, Route) and route.path == MCP_PATH]


def mcp_lifespan(server: Any) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the SDK's session manager runs while the server does (once per server object)."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return lifespan
