"""``HOST:PORT`` addresses for the chief, checked before anything is bound or written."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from tuner.errors import ConfigError

LOOPBACK = "127.0.0.1"
INSECURE = (
    "KerasTuner's gRPC channel is unauthenticated and unencrypted: anyone who can reach "
    "{address} can read the campaign's trials and hand it results. Bind a non-loopback "
    "address only on a network you trust."
)


@dataclass(frozen=True)
class Address:
    """A host and a TCP port (0: any free port, for a chief)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach the address (``localhost``, 127.x, ::1)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_address(text: str, *, option: str, allow_any_port: bool = False) -> Address:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as an `Address`; a `ConfigError` naming
    `option` otherwise. The host must resolve; the port is 1-65535 (0 too when
    `allow_any_port`: the chief picks a free one)."""
    example = f"{option} {LOOPBACK}:8470"
    host, colon, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port_text:
        raise ConfigError(f"{option} must be HOST:PORT, but got {text!r}; e.g. {example}.")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    low = 0 if allow_any_port else 1
    if not low <= port <= 65535:
        raise ConfigError(
            f"{option} port must be an integer in [{low}, 65535], but got {port_text!r}; "
            f"e.g. {example}."
        )
    try:
        socket.getaddrinfo(host, port or None)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(
            f"{option} host {host!r} does not resolve; give an IP address or a host name "
            f"this machine knows, e.g. {example}."
        ) from None
    return Address(host, port)
