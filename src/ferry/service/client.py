"""A thin client of the service's API (what ``ferry group ...`` uses). Error answers become ferry errors
carrying the service's code and message, so the CLI prints one line and exits non-zero."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ferry.errors import CredentialsError, FerryError, TaskNotFoundError, UsageError
from ferry.service.codes import NOT_FOUND

DEFAULT_SERVER = "http://127.0.0.1:8080"


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceClient:
    def __init__(self, server: str, token: str | None, project: str, timeout: float = 30.0) -> None:
        if not project:
            raise UsageError("a project id is needed: --project or FERRY_PROJECT")
        if not token:
            raise UsageError("a token is needed: --token or FERRY_TOKEN (see ferry token create)")
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"invalid --server {server!r}: expected http://HOST:PORT")
        self.server = server.rstrip("/")
        self.base = f"{self.server}/v2/{quote(project, safe='')}"
        self._http = httpx.Client(
            headers={"X-Auth-Token": token}, timeout=timeout, trust_env=not _loopback(server)
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._request(method, path, body, params)
        except httpx.TransportError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise FerryError(f"cannot reach the ferry service at {self.server}: {reason}") from None
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        return response.json()

    def _request(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> httpx.Response:
        """One request; a GET is sent again (twice at most) when a kept-alive connection was closed under
        it, which happens when the server dropped an idle connection just as it was reused."""
        for attempt in range(3):
            try:
                return self._http.request(method, self.base + path, json=body, params=params)
            except STALE_CONNECTION:
                if method != "GET" or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # --- task groups ---------------------------------------------------------------------------------------

    def create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/taskgroups", body=body)
        return result

    def list_groups(self, limit: int, offset: int, status: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        result: dict[str, Any] = self.call("GET", "/taskgroups", params=params)
        return result

    def show_group(self, group_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/taskgroups/{quote(group_id, safe='')}")
        return result

    def failed_objects(self, group_id: str, limit: int, offset: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "GET",
            f"/taskgroups/{quote(group_id, safe='')}/failed-objects",
            params={"limit": limit, "offset": offset},
        )
        return result

    def group_action(self, group_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        self.call("PUT", f"/taskgroups/{quote(group_id, safe='')}/{action}", body=body)

    def delete_group(self, group_id: str) -> None:
        self.call("DELETE", f"/taskgroups/{quote(group_id, safe='')}")


STALE_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


def _error(response: httpx.Response) -> FerryError:
    try:
        body = response.json()
        code, message = str(body["error_code"]), str(body["error_msg"])
    except (ValueError, KeyError, TypeError):
        return FerryError(f"the service answered {response.status_code} without an error body")
    text = f"{message} ({code})"
    if response.status_code in (401, 403):
        return CredentialsError(text)
    if code == NOT_FOUND:
        return TaskNotFoundError(text)
    if response.status_code == 400:
        return UsageError(text)
    return FerryError(text)
