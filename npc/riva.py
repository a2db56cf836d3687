"""What the Riva backends share: the client's Auth (one channel) and gRPC errors mapped."""

from __future__ import annotations

from typing import Any

from bridge.errors import BackendError

# gRPC status names worth retrying: the server is down or slow, not the request wrong.
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}


def auth(
    riva: Any, uri: str, use_ssl: bool, ssl_cert: str | None,
    metadata: dict[str, str] | None, stage: str,
) -> Any:  # fmt: skip
    """riva.client.Auth for `uri`; a bad certificate or address is a BackendError."""
    try:
        return riva.Auth(
            ssl_root_cert=ssl_cert,
            use_ssl=use_ssl,
            uri=uri,
            metadata_args=[[k, v] for k, v in (metadata or {}).items()],
        )
    except (OSError, ValueError) as e:
        raise BackendError(f"riva {stage} at {uri}: {e}", stage=stage) from e


def rpc_error(e: Exception, uri: str, stage: str) -> BackendError:
    """Map a grpc.RpcError to a BackendError that keeps the gRPC status in its text."""
    code = getattr(e, "code", None)
    status = code() if callable(code) else None
    name = getattr(status, "name", "UNKNOWN")
    details = getattr(e, "details", None)
    text = details() if callable(details) else str(e)
    return BackendError(
        f"riva {stage} at {uri}: gRPC {name}: {text}",
        retryable=name in RETRYABLE,
        stage=stage,
    )
