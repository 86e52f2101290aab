"""Serving the chat page: our theme and CSS on loopback, and ``serve``, what ``qa serve`` runs.

The page itself is laid out and wired in ``qa.serve.chat_page``, what its events do is in ``qa.serve.chat_handlers``,
and all its HTML comes from ``qa.serve.render_html``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from qa.errors import QAError, SettingsError
from qa.serve.chat_page import build_app
from qa.serve.uploads import DEFAULT_MAX_BYTES
from qa.serve.workspace import Workspace

CSS_PATH = Path(__file__).with_name("app.css")
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")
ANY_PORT_TRIES = 5  # port 0: how many ports the system offers before giving up (each loss is a rare race)


def theme() -> gr.themes.Base:
    """System fonts only: the page fetches nothing from outside (no web fonts at all)."""
    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                             radius_size="md", font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))


def free_port(host: str = "127.0.0.1") -> int:
    """A port the system says is free on ``host`` now (it may be taken again before it is bound)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host.strip("[]"), 0))
        return sock.getsockname()[1]


def api_app_kwargs(workspace: Workspace, auth: tuple[str, str] | None, *, mcp: bool, host: str) -> dict[str, Any]:
    """What Gradio's FastAPI app is made with to serve the JSON API (and the MCP server) beside the page.

    subtle: the routes go in when the app is made, ahead of Gradio's own, so they answer from the first request
    on; Gradio's catch-all ``/openapi.json`` of every route is off, ours describes the /api routes only.
    """
    from qa.serve.http_api import api_router

    kwargs: dict[str, Any] = {"routes": list(api_router(workspace, auth).routes), "openapi_url": None}
    if mcp:
        from qa.serve.mcp_tools import mcp_lifespan, mcp_routes, mcp_server

        server = mcp_server(workspace)
        kwargs["routes"] += mcp_routes(server, auth, host=host)
        kwargs["lifespan"] = mcp_lifespan(server)
    return kwargs


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           share: bool = False, max_upload_bytes: int = DEFAULT_MAX_BYTES, prevent_thread_lock: bool = False,
           quiet: bool = True, workspace: Workspace | None = None, mcp: bool = False) -> Any:
    """Serve the page: our theme and CSS, no public link unless asked, no file served from disk but the page's.
    With ``workspace``, the JSON API (``qa.serve.http_api``) beside it, and with ``mcp`` the MCP server at /mcp.

    ``port=0`` serves on any free port; the URL returned names the one bound. subtle: Gradio cannot bind port 0
    itself (it checks its own URL with the port it was given), so a free port is asked of the system and handed
    on; when another process takes it first, the bind fails and the next free port is tried.
    """
    if mcp and workspace is None:
        raise SettingsError("the MCP server needs the workspace it answers from: pass workspace=")
    app.queue(max_size=64)
    options = dict(server_name=host, auth=auth, share=share, prevent_thread_lock=prevent_thread_lock, quiet=quiet,
                   show_error=False, theme=theme(), css_paths=[CSS_PATH], footer_links=["api"], run_history=False,
                   enable_monitoring=False, mcp_server=False, ssr_mode=False, pwa=False, allowed_paths=[],
                   max_file_size=max_upload_bytes, auth_message="qa: sign in to ask your documents")

    def launch_on(server_port: int) -> Any:
        # subtle: Gradio adds to the app_kwargs it is given; every try makes the app from fresh ones
        extra = {"app_kwargs": api_app_kwargs(workspace, auth, mcp=mcp, host=host)} if workspace else {}
        return app.launch(server_port=server_port, **options, **extra)

    if port != 0:
        return launch_on(port)
    for _ in range(ANY_PORT_TRIES - 1):
        try:
            return launch_on(free_port(host))
        except OSError:
            pass  # taken between the system's offer and Gradio's bind: ask for another
    return launch_on(free_port(host))


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:password"`` -> ``("user", "password")``; SettingsError when either part is missing."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("--auth (or QA_AUTH) must be USER:PASSWORD, both non-empty")
    return user, password


def serve(index: Path, corpus: Path, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          share: bool = False, max_upload_mb: float = DEFAULT_MAX_BYTES / 2**20, model: str | None = None,
          watch_seconds: float | None = None, mcp: bool = False, cluster: str | None = None) -> int:
    """``qa serve``: build the index first if there is none, then serve the chat and the JSON API (with ``mcp``,
    the MCP server too) until interrupted; with ``watch_seconds``, rebuild once the corpus has been still that long
    after a change (``qa serve --watch``); with ``cluster``, the shards are answered by actors on the Ray cluster at
    that address."""
    credentials = parse_auth(auth)
    if max_upload_mb <= 0:
        raise SettingsError(f"--max-upload-mb {max_upload_mb} must be above 0")
    if watch_seconds is not None and watch_seconds <= 0:
        raise SettingsError(f"--quiet-seconds {watch_seconds} must be above 0")
    max_bytes = int(max_upload_mb * 2**20)
    workspace = Workspace(index, corpus, model=model, max_upload_bytes=max_bytes, cluster=cluster)
    if watch_seconds is not None:  # before the page is built: the page then polls what the watcher does
        workspace.watch(watch_seconds)
    app = build_app(workspace)
    try:
        if workspace.ensure_index(progress=True) is not None:
            print(f"qa: built the index at {index} from {corpus}", file=sys.stderr)
        workspace.warm_up()
    except QAError as exc:
        print(f"qa: warning: {exc}\nqa: serving anyway: add documents or rebuild from the page's Documents tab",
              file=sys.stderr)
    if watch_seconds is not None:
        print(f"qa: watching {corpus}: added, changed and removed files are indexed without a command",
              file=sys.stderr)
    try:
        _, url, share_url = launch(app, host=host, port=port, auth=credentials, share=share,
                                   max_upload_bytes=max_bytes, prevent_thread_lock=True, workspace=workspace,
                                   mcp=mcp)
    except OSError as exc:
        raise SettingsError(f"cannot listen on {host}:{port} ({exc}): pass another --port") from None
    print(f"qa: the chat is at {url}" + (f" and {share_url}" if share_url else "") + " (Ctrl+C stops it)",
          flush=True)
    print(f"qa: the JSON API is at {url}api/ (described at {url}openapi.json)"
          + (f"; the MCP server at {url}mcp" if mcp else ""), file=sys.stderr, flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        if workspace.watcher is not None:
            workspace.watcher.stop()
        app.close()
    return 0
