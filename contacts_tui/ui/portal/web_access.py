"""Who is asking the web portal: the host name a request is for, and the
client a session is counted against.

DNS rebinding: a page of evil.example whose name the attacker then points at
127.0.0.1 talks to the portal as "evil.example", with that Host and Origin,
in the victim's browser. So every request must name a host the portal
serves: localhost, the host of --listen, the host of --public-url (behind a
reverse proxy), or an address written as digits (a browser cannot be made
to reach a literal address under another site's name).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from urllib.parse import urlsplit

from aiohttp import web

LOCAL_NAMES = frozenset({"localhost"})


def host_name(value: str) -> str | None:
    """The name in a Host header ("Portal.Example.com.:443" -> "portal.example.com"), or None if it is not one."""
    try:
        name = urlsplit("//" + value.strip()).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class ServedHosts:
    """The host names the portal answers for."""

    def __init__(self, listen_host: str, public_url: str | None = None) -> None:
        names = set(LOCAL_NAMES)
        listen = listen_host.strip("[]").lower().rstrip(".")
        if listen and not _is_address(listen):
            names.add(listen)
        if public_url:
            public = urlsplit(public_url).hostname
            if public:
                names.add(public.rstrip("."))
        self.names = frozenset(names)

    def serves(self, request: web.Request) -> bool:
        header = request.headers.get("Host")
        if header is None:
            return True  # HTTP/1.0 without a Host: no browser, so no rebinding
        name = host_name(header)
        return name is not None and (name in self.names or _is_address(name))


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the portal's public address, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an address such as https://portal.example.com"
    return None


def client_of(request: web.Request, trust_proxy: bool) -> str:
    """The client a session counts against.

    Behind a reverse proxy every connection comes from the proxy; with
    ``trust_proxy`` the client is the last address of X-Forwarded-For, the one
    the proxy itself added (earlier ones are whatever the client sent). An
    IPv6 client holds a whole /64, so that is what counts as one client.
    """
    address = request.remote or ""
    if trust_proxy:
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")[-1].strip()
        address = forwarded or address
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ClientSlots:
    """Sessions per client, so one client cannot hold all of them."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.held: Counter[str] = Counter()

    def take(self, client: str) -> bool:
        if self.held[client] >= self.per_client:
            return False
        self.held[client] += 1
        return True

    def give_back(self, client: str) -> None:
        self.held[client] -= 1
        if self.held[client] <= 0:
            del self.held[client]
