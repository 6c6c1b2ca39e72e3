"""Which presigned statement URLs the client fetches: a job's URL comes from the server, so a compromised
or mistaken server must not be able to point the client at the caller's own network (SSRF), downgrade it
to plain http, or collect credentials.

A URL is fetched when it has the exact scheme, host and port of ``base_url`` (the sandbox serves its
statements there), or when it is ``https`` and its host is a public address: a loopback, link-local,
private, unspecified, multicast or reserved address (an IP literal, or any address its name resolves to;
an IPv6 address mapping or tunnelling to such an IPv4 address) is refused unless the caller opts in with
``allow_private_statement_hosts=True``. A URL carrying a user name or password is always refused (httpx
would send them as Basic credentials).

Names are resolved with ``resolve_host`` (default ``socket.getaddrinfo``), once: the client then connects
to exactly the addresses that were checked (``_network``), so a DNS answering a public address for the
check and a private one for the connection gets nowhere. A name that does not resolve is let through to
the connection, which refuses it (it has no vetted address); through a proxy the proxy decides. When the
client has a custom ``transport`` and no ``resolve_host``, names are not resolved (that transport decides
where they go); IP literals (in every form the system's resolver reads as an address) and ``localhost``
are still checked. A host that is not a valid internationalised domain name is refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from ._exceptions import StatementURLRefusedError

Resolver = Callable[[str, int], Iterable[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``address`` unfit for a statement download (None when it is a public address). An IPv6
    address that carries an IPv4 one (mapped, or 6to4: ``2002:7f00:1::`` reaches 127.0.0.1 through a 6to4
    relay) is judged by that IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None and (kind := _kind(address.sixtofour)) is not None:
            return kind
    for name in ("unspecified", "loopback", "link_local", "private", "multicast", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "non-global"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``text`` spells, in any form the system's resolver reads as one: besides the
    canonical ones, the IPv4 forms of ``inet_aton`` (``127.1``, ``2130706433``, ``0x7f.1``; a trailing dot
    ignored), which ``getaddrinfo`` returns without asking DNS, so a transport connects to them as such."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    short = text.rstrip(".")
    if not short or not _IPV4_CHARS.issuperset(short):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(short))
    except (OSError, ValueError):
        return None


_IPV4_CHARS = frozenset("0123456789abcdefxABCDEFX.")


def check_statement_url(
    url: str, *, base_url: str, allow_private: bool = False, resolve: Resolver | None = system_resolver
) -> tuple[str, ...] | None:
    """Raise :class:`StatementURLRefusedError` unless ``url`` may be fetched (see the module docstring).

    Returns the addresses that were checked, the only ones a connection to the URL's host may use (empty
    when the name did not resolve), or None when no address was checked: the ``base_url`` origin, private
    hosts allowed, or a name left unresolved (``resolve=None``).

    Public so that other tools that fetch a job's statement URLs (the conformance check) apply the same policy;
    ``resolve=None`` checks IP literals and ``localhost`` only.

    A URL httpx cannot parse is left to httpx, which refuses it with its own error."""
    try:
        target = httpx.URL(url)
        base = httpx.URL(base_url)
    except httpx.InvalidURL:
        return None
    try:
        target.host  # noqa: B018 (decoding it is the check)
    except UnicodeError:  # idna's errors: an A-label that does not decode (xn--), a codepoint IDNA refuses
        raise StatementURLRefusedError("the URL's host is not a valid internationalised domain name", url=url) from None
    if target.userinfo:
        raise StatementURLRefusedError("the URL carries a user name or password", url=url)
    if (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port):
        return None
    if target.scheme != "https":
        raise StatementURLRefusedError(
            f"not https (a {target.scheme or 'schemeless'} URL on another host than base_url)", url=url
        )
    if not target.host:
        raise StatementURLRefusedError("the URL has no host", url=url)
    if allow_private:
        return None
    host = target.host
    literal = _address(host)
    addresses: tuple[str, ...]
    if literal is not None:
        addresses = (str(literal),)
    elif host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        addresses = ("127.0.0.1",)
    elif resolve is not None:
        addresses = tuple(resolve(host, target.port or 443))
    else:
        return None
    for text in addresses:
        address = _address(text)
        kind = "unparsable" if address is None else _kind(address)
        if kind is not None:
            raise StatementURLRefusedError(
                f"{host} is a {kind} address ({text}); pass allow_private_statement_hosts=True to allow it",
                url=url,
            )
    return addresses


__all__ = ["Resolver", "check_statement_url", "system_resolver"]
