"""Run the encoder service with uvicorn: in the foreground (``medsam-gui serve``) or
in a thread (tests, benchmarks), with TLS from a certificate and key."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.remote import is_loopback_host


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: str | None = None
    tls_key: str | None = None
    allow_plain_http_on_network: bool = False


def check_listen(listen: Listen) -> None:
    """MedsamGuiError for a half TLS setup, or plain HTTP on a non-loopback address
    without ``allow_plain_http_on_network``."""
    if bool(listen.tls_cert) != bool(listen.tls_key):
        raise MedsamGuiError("TLS needs both --tls-cert FILE and --tls-key FILE")
    if not listen.tls_cert and not is_loopback_host(listen.host) and not listen.allow_plain_http_on_network:
        raise MedsamGuiError(
            f"refusing to serve plain HTTP on {listen.host}: slices and tokens would cross the network unencrypted. "
            "Give --tls-cert and --tls-key, put a TLS reverse proxy in front and listen on 127.0.0.1, or (on a "
            "network you trust) --allow-plain-http-on-network")


def _config(app, listen: Listen):
    import uvicorn

    return uvicorn.Config(app, host=listen.host, port=listen.port, ssl_certfile=listen.tls_cert,
                          ssl_keyfile=listen.tls_key, log_level="warning", access_log=False,
                          timeout_keep_alive=30, lifespan="off")


def serve_forever(app, listen: Listen) -> None:
    """Serve until interrupted (Ctrl+C, SIGTERM)."""
    import uvicorn

    check_listen(listen)
    uvicorn.Server(_config(app, listen)).run()


class ServiceThread:
    """The service in a background thread: ``start()`` returns once it listens and
    sets ``port`` (give port 0 for a free one); ``stop()`` shuts it down."""

    def __init__(self, app, listen: Listen) -> None:
        import uvicorn

        check_listen(listen)
        self.listen = listen
        self.server = uvicorn.Server(_config(app, listen))
        self.thread = threading.Thread(target=self.server.run, name="encoder-service", daemon=True)
        self.port: int | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.listen.tls_cert else "http"
        return f"{scheme}://{self.listen.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> "ServiceThread":
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise MedsamGuiError("the encoder service did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)

    def __enter__(self) -> "ServiceThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
