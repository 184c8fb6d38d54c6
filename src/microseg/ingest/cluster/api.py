"""One connection to the Kubernetes API through the official client: configuration from a
kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`, `--context`) or from inside a
pod, and raw JSON requests.

Objects are read as the JSON the API serves (`_preload_content=False`), never through the
client's generated model classes: those rename every field to snake_case and drop what
they do not know, while the readers of microseg.ingest take the API's own JSON, exactly as
`kubectl get -o json` writes it (https://kubernetes.io/docs/reference/using-api/api-concepts/).
The client is imported only here and only when a command reads the cluster: it costs about
half a second of start-up that file commands should not pay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Api", "ApiError", "ClusterConfig", "ConfigError", "connect"]

# Seconds to open a connection; reads get their own timeout per request.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


class ConfigError(Exception):
    """No usable configuration: no kubeconfig, an unknown context, not in a pod (MS700)."""


class ApiError(Exception):
    """A request the API answered with an error status, or that never got an answer.

    `status` is the HTTP status (0 when the connection failed); `reason` the Status
    object's machine-readable reason (`Forbidden`, `NotFound`, `Expired`, `Invalid`, ...)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """What `--cluster` was told: which kubeconfig, which context, which namespaces."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()


def _status_error(status: int, reason: str, body: Any) -> ApiError:
    """The API's Status object (metav1.Status) says why; fall back to the HTTP reason."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return ApiError(
            int(parsed.get("code") or status),
            str(parsed.get("reason") or reason),
            str(parsed.get("message") or reason),
        )
    return ApiError(status, reason or "Error", (text.strip()[:200] or reason or f"HTTP {status}"))


class Api:
    """Raw requests to one API server, with the client's authentication."""

    def __init__(self, client: Any, context: str) -> None:
        self._client = client
        self.context = context
        self.server = str(client.configuration.host)

    def _call(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        *,
        body: Any = None,
        content_type: str | None = None,
        timeout: float = READ_TIMEOUT,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            method, url, headers, body, post = self._client.param_serialize(
                method,
                path,
                query_params=query,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(
                method, url, headers, body, post, _request_timeout=(CONNECT_TIMEOUT, timeout)
            ).response
        except ApiException as exc:
            raise _status_error(int(exc.status or 0), str(exc.reason or ""), exc.body) from None
        except HTTPError as exc:
            raise ApiError(0, "ConnectionFailed", f"{self.server}: {_short(exc)}") from None
        except OSError as exc:
            raise ApiError(0, "ConnectionFailed", f"{self.server}: {exc}") from None
        if not 200 <= response.status < 300:
            try:
                data = response.data
            except (HTTPError, OSError):
                data = b""
            raise _status_error(response.status, str(response.reason or ""), data)
        return response

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """GET a JSON document (a list, an object, a discovery document)."""
        from urllib3.exceptions import HTTPError

        response = self._call("GET", path, query or [])
        try:
            raw = response.data
        except (HTTPError, OSError) as exc:
            raise ApiError(0, "ConnectionFailed", f"{self.server}: {_short(exc)}") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(
                response.status, "BadResponse", f"{path}: the server's answer is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise ApiError(response.status, "BadResponse", f"{path}: expected a JSON object")
        return data

    def apply(
        self, path: str, document: str, field_manager: str, dry_run: bool, force: bool
    ) -> dict[str, Any]:
        """Server-side apply (PATCH application/apply-patch+yaml) of one object."""
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        response = self._call(
            "PATCH", path, query, body=document, content_type="application/apply-patch+yaml"
        )
        try:
            data = json.loads(response.data)
        except ValueError:
            raise ApiError(response.status, "BadResponse", f"{path}: answer not JSON") from None
        return data if isinstance(data, dict) else {}

    def patch(
        self, path: str, body: Any, content_type: str, field_manager: str, dry_run: bool = False
    ) -> dict[str, Any]:
        """PATCH one object: `application/json-patch+json` (RFC 6902, a list of operations,
        whose `test` makes the change conditional) or `application/merge-patch+json`."""
        query = [("fieldManager", field_manager)]
        if dry_run:
            query.append(("dryRun", "All"))
        response = self._call("PATCH", path, query, body=body, content_type=content_type)
        try:
            data = json.loads(response.data)
        except ValueError:
            raise ApiError(response.status, "BadResponse", f"{path}: answer not JSON") from None
        return data if isinstance(data, dict) else {}

    def delete(self, path: str, dry_run: bool = False) -> None:
        """DELETE one object (a 404 is the caller's to judge: ApiError)."""
        query = [("dryRun", "All")] if dry_run else []
        self._call("DELETE", path, query)

    def get_object(self, path: str) -> dict[str, Any] | None:
        """One object, or None when the server says 404."""
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def stream(self, path: str, query: list[tuple[str, str]], timeout: float) -> Iterator[bytes]:
        """The lines of a streamed answer (a watch), as they arrive; ends when the server
        closes the stream. A dropped connection raises ApiError(0, ...)."""
        from urllib3.exceptions import HTTPError

        response = self._call("GET", path, query, timeout=timeout)
        pending = b""
        try:
            for chunk in response.stream(amt=None, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield line
            if pending.strip():
                yield pending
        except (HTTPError, OSError) as exc:
            raise ApiError(0, "ConnectionLost", f"{self.server}: {_short(exc)}") from None
        finally:
            response.release_conn()

    def close(self) -> None:
        self._client.close()


def _short(exc: BaseException) -> str:
    """urllib3's messages nest the cause in a repr; the innermost reason reads best."""
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc)
    return text.split("NewConnectionError(")[-1].strip(")'\" ")[:300]


def _pooled(configuration: Any) -> Any:
    """One connection per watched resource (about twenty) plus lists: urllib3's default pool
    of ten would close and reopen connections all the time."""
    configuration.connection_pool_maxsize = 48
    return configuration


def connect(config: ClusterConfig) -> Api:
    """A client for the cluster `config` names. Kubeconfig first (as kubectl: the file
    given, else KUBECONFIG, else ~/.kube/config), else the pod's service account
    (in-cluster, https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/);
    raises ConfigError when neither is there."""
    from kubernetes import client
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException

    files = config.kubeconfig or os.environ.get("KUBECONFIG") or ""
    default = Path("~/.kube/config").expanduser()
    explicit = bool(config.kubeconfig or os.environ.get("KUBECONFIG"))
    if not explicit and not default.exists():
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            if config.context:
                raise ConfigError(f"--context {config.context}: no kubeconfig (in a pod)")
            configuration = client.Configuration()
            try:
                kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except ConfigException as exc:
                raise ConfigError(f"in-cluster configuration: {exc}") from None
            return Api(client.ApiClient(_pooled(configuration)), "in-cluster")
        raise ConfigError(
            "no kubeconfig (none at ~/.kube/config, KUBECONFIG unset) and not running in a "
            "pod; pass --kubeconfig FILE"
        )
    path = files or str(default)
    for part in path.split(os.pathsep):
        if part and not Path(part).expanduser().is_file():
            raise ConfigError(f"kubeconfig {part}: no such file")
    try:
        contexts, active = kconfig.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        names = [c.get("name") for c in contexts or []]
        if config.context is not None and config.context not in names:
            known = ", ".join(str(n) for n in names) or "none"
            raise ConfigError(f"--context {config.context}: no such context (known: {known})")
        context = config.context or (active or {}).get("name") or ""
        configuration = client.Configuration()
        kconfig.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context or None, client_configuration=configuration
        )
    except ConfigException as exc:
        raise ConfigError(f"kubeconfig {path}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"kubeconfig {path}: {exc}") from None
    return Api(client.ApiClient(_pooled(configuration)), str(context))
