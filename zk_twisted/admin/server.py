"""The AdminServer: 3.8's admin commands over HTTP on twisted.web, as its JettyAdminServer serves them.

``GET <commandURL>`` (or ``<commandURL>/``) lists every command's primary name as a link;
``GET <commandURL>/<name>?key=value`` runs the command registered under ``name`` and answers
200 with its JSON (an unknown name too: the error is in the body, as in 3.8).  Other paths
are 404; OPTIONS lists the methods, TRACE is 403 (3.8 constrains it), others are 405.

Binding can fail (port in use): :meth:`AdminServer.startService` raises
:class:`AdminServerError`, and the caller decides as 3.8 does -- a standalone server exits
(ZooKeeperServerMain: status 4), a quorum peer logs it and serves on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from twisted.application import service
from twisted.internet.error import CannotListenError
from twisted.web import resource, server
from twisted.web.http import FORBIDDEN, NOT_ALLOWED, NOT_FOUND, OK

from .commands import PRIMARY_NAMES, run_command
from .jsonout import CONTENT_TYPE, to_json
from .view import ServerView

log = logging.getLogger(__name__)

#: ExitCode.ERROR_STARTING_ADMIN_SERVER: what a standalone 3.8 exits with when it cannot bind
EXIT_ERROR_STARTING_ADMIN_SERVER = 4
#: what HttpServlet.doOptions lists for a servlet with only doGet
ALLOW = b"GET, HEAD, TRACE, OPTIONS"


class AdminServerError(Exception):
    """AdminServerException: the AdminServer could not start."""


def _decode(raw: bytes) -> str:
    return unquote_to_bytes(raw).decode("utf-8", "replace")


class CommandResource(resource.Resource):
    """JettyAdminServer.CommandServlet, mounted at ``command_url`` (and everything below it)."""

    isLeaf = True

    def __init__(self, view: ServerView, command_url: str) -> None:
        super().__init__()
        self.view = view
        self.command_url = command_url.rstrip("/") if command_url != "/" else ""

    def command_name(self, path: str) -> str | None:
        """'' for the listing, the command name, or None when ``path`` is not ours."""
        url = self.command_url
        if path == url:
            return ""
        if path.startswith(url + "/"):
            return path[len(url) + 1 :]
        return None

    def links(self) -> str:
        """commandLinks, each printed with println and a <br/>."""
        return "".join(f'<a href="{self.command_url}/{name}">{name}</a>\n<br/>\n' for name in PRIMARY_NAMES)

    def render_GET(self, request: server.Request) -> bytes:
        name = self.command_name(_decode(request.path))
        if name is None:
            return resource.NoResource().render(request)
        if name == "":
            request.defaultContentType = None  # 3.8 sets no content type on the listing
            return self.links().encode("utf-8")
        kwargs: Mapping[str, str] = {_decode(k): _decode(v[0]) for k, v in (request.args or {}).items() if v}
        response = run_command(name, self.view, kwargs)
        request.setResponseCode(OK)
        request.setHeader(b"Content-Type", CONTENT_TYPE.encode())
        return to_json(response.to_map()).encode("utf-8")

    def render(self, request: server.Request) -> bytes:
        """HttpServlet.service: GET (HEAD is GET without the body), OPTIONS, and 405 for the
        rest; TRACE is forbidden by the constraint 3.8 puts on every path."""
        method = request.method
        if method in (b"GET", b"HEAD"):
            return super().render(request)  # twisted.web answers HEAD from render_GET
        request.setHeader(b"Content-Length", b"0")
        if method == b"TRACE":
            request.setResponseCode(FORBIDDEN)
        elif method == b"OPTIONS":
            request.setHeader(b"Allow", ALLOW)
        elif self.command_name(_decode(request.path)) is None:
            request.setResponseCode(NOT_FOUND)
        else:
            request.setResponseCode(NOT_ALLOWED)
        return b""


class AdminServer(service.Service):
    """JettyAdminServer as a Twisted service: one HTTP port serving one server's commands."""

    name = "adminserver"

    def __init__(
        self,
        view: ServerView,
        address: str = "0.0.0.0",
        port: int = 8080,
        command_url: str = "/commands",
        idle_timeout_ms: int = 30000,
        reactor=None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.address = address
        self.port_number = port
        self.command_url = command_url
        timeout = idle_timeout_ms / 1000.0 if idle_timeout_ms > 0 else None
        self.site = server.Site(CommandResource(view, command_url), timeout=timeout)
        self.site.displayTracebacks = False
        self.site.noisy = False
        self.listening = None

    @classmethod
    def from_config(cls, cfg, view: ServerView, reactor=None) -> AdminServer | None:
        """AdminServerFactory.createAdminServer: None when admin.enableServer=false."""
        if not cfg.admin_enable_server:
            return None
        return cls(
            view,
            cfg.admin_server_address,
            cfg.admin_server_port,
            cfg.admin_command_url,
            cfg.admin_idle_timeout,
            reactor,
        )

    def describe(self) -> str:
        return f"address {self.address}, port {self.port_number} and command URL {self.command_url}"

    def startService(self) -> None:
        try:
            self.listening = self.reactor.listenTCP(self.port_number, self.site, interface=self.address)
        except CannotListenError as e:
            raise AdminServerError(
                f"Problem starting AdminServer on {self.describe()}: {e.socketError}"
            ) from e
        super().startService()
        log.info(
            "Started AdminServer on address %s, port %d and command URL %s",
            self.address,
            self.bound_port,
            self.command_url,
        )

    @property
    def bound_port(self) -> int:
        return self.listening.getHost().port if self.listening is not None else self.port_number

    def stopService(self):
        super().stopService()
        listening, self.listening = self.listening, None
        if listening is not None:
            return listening.stopListening()
        return None
