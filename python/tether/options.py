"""Connection options: TLS and compression settings, and how keyword
arguments of ``connect()`` / ``serve()`` become a C ``tether_opts``."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence, Tuple, Union

from ._native import c_str, ffi, lib
from .exceptions import error_from_code

__all__ = ["TLSConfig", "Deflate", "HeadersLike", "make_opts", "OPTION_NAMES", "TLS_NAMES"]

HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class TLSConfig:
    """TLS settings (OpenSSL inside the C library, TLS 1.2 and 1.3).

    A client uses TLS for ``wss://`` URIs and verifies the server against
    ``cafile``/``capath`` (the system's store when neither is given) and
    the host name of the URI, or ``server_hostname``. The relax flags are
    for tests and private networks only. ``certfile``/``keyfile`` are a
    client certificate on a client, and the server certificate on a
    server, where they turn TLS on. A server may ask for client
    certificates (``verify_client``: "none", "optional", "required") and
    serve other certificates by SNI (``sni``: {name: (certfile, keyfile)})."""

    cafile: PathLike | None = None
    capath: PathLike | None = None
    certfile: PathLike | None = None
    keyfile: PathLike | None = None
    server_hostname: str | None = None
    allow_self_signed: bool = False
    check_hostname: bool = True
    allow_expired: bool = False
    insecure: bool = False
    verify_client: str = "none"
    sni: Mapping[str, Tuple[PathLike, PathLike | None]] = field(default_factory=dict)

    def flags(self) -> int:
        """The TETHER_TLS_* relaxation bits."""
        f = 0
        if self.allow_self_signed:
            f |= lib.TETHER_TLS_ALLOW_SELFSIGNED
        if not self.check_hostname:
            f |= lib.TETHER_TLS_SKIP_HOSTNAME_CHECK
        if self.allow_expired:
            f |= lib.TETHER_TLS_ALLOW_EXPIRED
        if self.insecure:
            f |= lib.TETHER_TLS_INSECURE
        return f


TLS_NAMES = frozenset(f.name for f in dataclasses.fields(TLSConfig))


@dataclass
class Deflate:
    """permessage-deflate (RFC 7692) settings. ``compression="deflate"``
    means ``Deflate()``: the defaults below.

    ``server_no_context_takeover`` / ``client_no_context_takeover`` drop
    that side's LZ77 context after each message; ``*_max_window_bits``
    (9..15, None for no limit) bound that side's window; ``level`` (0..9)
    and ``mem_level`` (1..9) shape our own compressor; messages shorter
    than ``threshold`` bytes are sent uncompressed."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    level: int = 6
    mem_level: int = 8
    threshold: int = 64


# Keyword arguments shared by connect() and serve(), with their defaults.
OPTION_NAMES = {
    "subprotocols": None,
    "additional_headers": None,
    "origin": None,
    "compression": None,
    "max_size": lib.TETHER_DEFAULT_MAX_MESSAGE,
    "max_frame": None,
    "ping_interval": 20.0,
    "ping_timeout": 20.0,
    "open_timeout": 10.0,
    "close_timeout": 10.0,
    "idle_timeout": None,
    "write_limit": 64 * 1024,
    "send_limit": None,
    "max_header_bytes": None,
    "max_headers": None,
    "reuse_port": False,
    "http2": None,
    "proxy": True,
    "tls": None,
    "user_agent_header": "default",
    "server_header": "default",
}


def _ms(seconds: float | None, name: str) -> int:
    if seconds is None:
        return 0
    if seconds < 0:
        raise ValueError(f"{name} must be >= 0")
    ms = int(round(seconds * 1000))
    return max(ms, 1) if seconds > 0 else 0


def _headers(h: HeadersLike | None) -> list[tuple[str, str]]:
    if h is None:
        return []
    if isinstance(h, Mapping):
        return [(str(k), str(v)) for k, v in h.items()]
    return [(str(k), str(v)) for k, v in h]


def _deflate(value: Any) -> Deflate | None:
    if value is None or value is False:
        return None
    if value == "deflate" or value is True:
        return Deflate()
    if isinstance(value, Deflate):
        return value
    raise ValueError(f"compression must be None, 'deflate' or a Deflate, not {value!r}")


def resolve_logger(value: Any) -> Any:
    """``logger=`` as websockets takes it: a Logger (or LoggerAdapter), a
    logger's name, or None for the package's ``tether`` logger."""
    if value is None:
        return logging.getLogger("tether")
    if isinstance(value, str):
        return logging.getLogger(value)
    return value


def split_conn_kw(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The connection object's keyword arguments (max_queue, write_limit,
    close_timeout, logger) out of kwargs. write_limit and close_timeout stay in
    kwargs too: the C library needs them (the DRAIN mark, the close
    timeout); a DRAIN mark left at its default above a smaller write_limit
    had a send wait for a DRAIN that never came."""
    out = {"max_queue": kwargs.pop("max_queue")} if "max_queue" in kwargs else {}
    out["logger"] = resolve_logger(kwargs.pop("logger", None))
    out["close_timeout"] = kwargs.get("close_timeout", 10.0)
    if "write_limit" in kwargs:
        out["write_limit"] = kwargs["write_limit"]
    return out


def split_tls(kwargs: dict[str, Any]) -> TLSConfig | None:
    """Takes TLSConfig field names out of kwargs (cafile=..., certfile=...)
    and merges them into kwargs['tls']."""
    tls = kwargs.get("tls")
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k in TLS_NAMES}
    if flat:
        tls = dataclasses.replace(tls, **flat) if tls else TLSConfig(**flat)
    kwargs["tls"] = tls
    return tls


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise error_from_code(rc, what=what)


def _path(p: PathLike | None) -> Any:
    return c_str(os.fspath(p) if p is not None else None, "path")


def _proxy(opts: Any, role: str, proxy: Any) -> None:
    """proxy=True (the default, as in websockets): the environment's, read
    as curl reads it (https_proxy, http_proxy, all_proxy, no_proxy); a URL
    (http://, socks5://, socks5h://): that one; None: connect directly."""
    if role != "client":
        if proxy is not True and proxy is not None:
            raise TypeError("proxy is a client option")
        return
    if proxy is True:
        _check(lib.tether_opts_set_proxy_from_env(opts, 1), "proxy")
    elif proxy is not None and proxy is not False:
        if not isinstance(proxy, str):
            raise TypeError(f"proxy must be a URL, True or None, not {proxy!r}")
        rc = lib.tether_opts_set_proxy(opts, c_str(proxy, "proxy"))
        if rc == lib.TETHER_E_UNSUPPORTED:
            raise ValueError(f"proxy {proxy!r}: only http://, socks5:// and socks5h:// proxies")
        if rc < 0:
            raise ValueError(f"proxy {proxy!r}: not a proxy URL")


def _product_header(opts: Any, role: str, o: dict[str, Any]) -> None:
    """User-Agent (clients) or Server (servers), as websockets sends them:
    "Python/3.x tether/VERSION" by default, a str of yours, or None for
    none; not added when additional_headers has one already."""
    mine, other = ("user_agent_header", "server_header") if role == "client" else \
        ("server_header", "user_agent_header")
    if o[other] != "default":
        raise TypeError(f"{other} is a {'server' if role == 'client' else 'client'} option")
    value = o[mine]
    name = "User-Agent" if role == "client" else "Server"
    if value == "default":
        if any(k.lower() == name.lower() for k, _ in _headers(o["additional_headers"])):
            return
        value = PRODUCT
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{mine} must be a str or None")
    _check(lib.tether_opts_add_header(opts, c_str(name, "header name"),
                                      c_str(value, mine)), mine)


#: what User-Agent and Server say by default, as websockets' does for itself
PRODUCT = (f"Python/{sys.version_info.major}.{sys.version_info.minor} "
           f"tether/{ffi.string(lib.TETHER_VERSION_STRING).decode()}")


def make_opts(role: str, **kw: Any) -> Any:
    """A ``tether_opts *`` (freed when garbage-collected) for the options
    in kw (names as in OPTION_NAMES). role: "client" or "server"."""
    unknown = set(kw) - set(OPTION_NAMES)
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    o = dict(OPTION_NAMES)
    o.update(kw)
    opts = ffi.gc(lib.tether_opts_new(), lib.tether_opts_free)
    if opts == ffi.NULL:
        raise MemoryError("tether_opts_new")

    max_size = o["max_size"]
    if max_size is None:
        max_size = 2**63 - 1
    _check(lib.tether_opts_set_max_message(opts, int(max_size)), "max_size")
    if o["max_frame"] is not None:
        _check(lib.tether_opts_set_max_frame(opts, int(o["max_frame"])), "max_frame")
    elif o["max_size"] is None:
        _check(lib.tether_opts_set_max_frame(opts, 2**63 - 1), "max_frame")

    open_ms = _ms(o["open_timeout"], "open_timeout")
    _check(lib.tether_opts_set_connect_timeout(opts, open_ms), "open_timeout")
    _check(lib.tether_opts_set_handshake_timeout(opts, open_ms), "open_timeout")
    close_ms = _ms(o["close_timeout"], "close_timeout")
    if close_ms:
        _check(lib.tether_opts_set_close_timeout(opts, close_ms), "close_timeout")
    _check(lib.tether_opts_set_idle_timeout(opts, _ms(o["idle_timeout"], "idle_timeout")),
           "idle_timeout")
    ping_ms = _ms(o["ping_interval"], "ping_interval")
    _check(lib.tether_opts_set_ping_interval(opts, ping_ms), "ping_interval")
    if o["ping_timeout"] is not None:
        pt = _ms(o["ping_timeout"], "ping_timeout")
        if pt:
            _check(lib.tether_opts_set_ping_timeout(opts, pt), "ping_timeout")
    if o["write_limit"] is not None:
        _check(lib.tether_opts_set_drain_mark(opts, int(o["write_limit"])), "write_limit")
    if o["send_limit"] is not None:
        _check(lib.tether_opts_set_send_limit(opts, int(o["send_limit"])), "send_limit")
    if o["max_header_bytes"] is not None:
        _check(lib.tether_opts_set_max_header_bytes(opts, int(o["max_header_bytes"])),
               "max_header_bytes")
    if o["max_headers"] is not None:
        _check(lib.tether_opts_set_max_headers(opts, int(o["max_headers"])), "max_headers")

    subprotocols: Sequence[str] | None = o["subprotocols"]
    if isinstance(subprotocols, str):
        raise TypeError("subprotocols must be a sequence of str, not a str")
    for p in subprotocols or ():
        _check(lib.tether_opts_add_protocol(opts, c_str(p, "subprotocol")), f"subprotocol {p!r}")
    for name, value in _headers(o["additional_headers"]):
        _check(lib.tether_opts_add_header(opts, c_str(name, "header name"),
                                          c_str(value, "header value")), f"header {name!r}")
    _product_header(opts, role, o)
    if o["origin"] is not None:
        if role != "client":
            raise TypeError("origin is a client option")
        _check(lib.tether_opts_set_origin(opts, c_str(o["origin"], "origin")), "origin")
    if o["reuse_port"]:
        _check(lib.tether_opts_set_reuseport(opts, 1), "reuse_port")
    if o["http2"] is not None:
        # a client prefers HTTP/2 (RFC 8441 over wss://); a server offers it
        # (on by default) or not
        setter = lib.tether_opts_set_prefer_http2 if role == "client" else lib.tether_opts_set_http2
        _check(setter(opts, int(bool(o["http2"]))), "http2")

    _proxy(opts, role, o["proxy"])

    d = _deflate(o["compression"])
    if d is not None:
        _check(lib.tether_opts_set_deflate(opts, 1), "compression")
        _check(lib.tether_opts_set_deflate_no_context_takeover(
            opts, int(d.server_no_context_takeover), int(d.client_no_context_takeover)),
            "compression")
        _check(lib.tether_opts_set_deflate_window_bits(
            opts, d.server_max_window_bits or 0, d.client_max_window_bits or 0), "compression")
        _check(lib.tether_opts_set_deflate_level(opts, d.level), "compression level")
        _check(lib.tether_opts_set_deflate_mem_level(opts, d.mem_level), "compression mem_level")
        _check(lib.tether_opts_set_deflate_threshold(opts, d.threshold), "compression threshold")

    tls: TLSConfig | None = o["tls"]
    if tls is not None:
        if tls.cafile is not None or tls.capath is not None:
            _check(lib.tether_opts_set_tls_ca(opts, _path(tls.cafile), _path(tls.capath)), "cafile")
        if tls.certfile is not None:
            _check(lib.tether_opts_set_tls_cert(opts, _path(tls.certfile), _path(tls.keyfile)),
                   "certfile")
        elif tls.keyfile is not None:
            raise ValueError("keyfile needs certfile")
        for name, (cert, key) in dict(tls.sni).items():
            _check(lib.tether_opts_add_tls_sni_cert(opts, c_str(name, "SNI name"), _path(cert),
                                                    _path(key)), f"SNI certificate {name!r}")
        modes = {"none": 0, "optional": 1, "required": 2}
        if tls.verify_client not in modes:
            raise ValueError("verify_client must be 'none', 'optional' or 'required'")
        if modes[tls.verify_client]:
            _check(lib.tether_opts_set_tls_verify_client(opts, modes[tls.verify_client]),
                   "verify_client")
        if tls.flags():
            _check(lib.tether_opts_set_tls_flags(opts, tls.flags()), "TLS flags")
        if tls.server_hostname is not None:
            _check(lib.tether_opts_set_tls_server_name(opts, c_str(tls.server_hostname)),
                   "server_hostname")
    return opts
