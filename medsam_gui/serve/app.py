"""The HTTP front of the encoder service (FastAPI): tokens, limits, the wire format.

Routes: ``GET /health`` (no token: status and model names only), ``GET /v1/check``
(token: the user and each model's weights id and preprocessing), ``POST /v1/encode``
(token: one model-input slice in, its fp16 embedding out; see
:mod:`medsam_gui.engine.remote`). Errors are JSON ``{"error": code, "message": words}``:
401 missing/wrong/revoked token, 413 body too large, 429 rate limit (with
Retry-After), 404 unknown model, 409 other preprocessing, 400 malformed body.

Privacy: request bodies live in memory for the one request; nothing is written to
disk; log lines name the user, the model, the size and the time, never pixels or
tokens.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from medsam_gui.engine.remote import (
    CHECK_PATH, CONTENT_TYPE, ENCODE_PATH, HEALTH_PATH, WireFormatError, decode_request, encode_response,
)

log = logging.getLogger("medsam_gui.serve")


@dataclass(frozen=True)
class Limits:
    """``max_body_bytes``: largest request body (413 above); ``max_pixels``: largest
    slice (rows x columns); ``rate_per_s`` / ``burst``: each token's request budget
    (a token bucket; 429 when empty)."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_pixels: int = 2048 * 2048
    rate_per_s: float = 50.0
    burst: int = 100


class RateLimiter:
    """A token bucket per user: ``burst`` requests at once, refilled at ``rate_per_s``."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, user: str) -> float:
        """0 when the request may go; else the seconds until it could."""
        now = time.monotonic()
        with self._lock:
            level, then = self._buckets.get(user, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate_per_s)
            if level >= 1.0:
                self._buckets[user] = (level - 1.0, now)
                return 0.0
            self._buckets[user] = (level, now)
            return (1.0 - level) / self.rate_per_s if self.rate_per_s > 0 else 3600.0


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (then it is read to the end
    and dropped, so the client gets the 413 rather than a broken connection)."""
    declared = request.headers.get("content-length")
    chunks, size, too_large = [], 0, False
    if declared is not None and declared.isdigit() and int(declared) > limit:
        too_large = True
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_large = True
            chunks = []
            if size > 8 * limit:  # no more draining: the connection is closed
                break
        elif not too_large:
            chunks.append(chunk)
    return None if too_large else b"".join(chunks)


def build_app(encoders: dict, tokens, limits: Limits = Limits()) -> FastAPI:
    """The FastAPI app. ``encoders``: model name -> encoder (see :mod:`.encoders`);
    ``tokens``: a :class:`~medsam_gui.serve.tokens.TokenStore`."""
    app = FastAPI(title="medsam-gui encoder service", docs_url=None, redoc_url=None, openapi_url=None)
    limiter = RateLimiter(limits.rate_per_s, limits.burst)

    async def authenticate(request: Request):
        token = _bearer(request)
        if token is None:
            return None, error(401, "no_token", "this service needs a token: give it as 'Authorization: Bearer TOKEN' "
                                                "(medsam-gui --token or MEDSAM_GUI_TOKEN)",
                               {"WWW-Authenticate": "Bearer"})
        user = await asyncio.get_running_loop().run_in_executor(None, tokens.verify, token)
        if user is None:
            return None, error(401, "bad_token", "the token is wrong or has been revoked: ask the service's "
                                                 "administrator for a new one", {"WWW-Authenticate": "Bearer"})
        return user, None

    @app.get(HEALTH_PATH)
    async def health():
        return {"status": "ok", "models": sorted(encoders)}

    @app.get(CHECK_PATH)
    async def check(request: Request):
        user, refusal = await authenticate(request)
        if refusal is not None:
            return refusal
        return {"user": user, "models": [{"name": name, "model_id": encoder.model_id,
                                          "preprocessing": encoder.preprocessing} for name, encoder in encoders.items()]}

    @app.post(ENCODE_PATH)
    async def encode(request: Request):
        user, refusal = await authenticate(request)
        if refusal is not None:
            return refusal
        wait_s = limiter.take(user)
        if wait_s > 0:
            return error(429, "rate_limited", f"too many requests for this token ({limits.rate_per_s:g} a second, "
                                              f"bursts of {limits.burst}): try again in {wait_s:.1f} s",
                         {"Retry-After": str(max(1, math.ceil(wait_s)))})
        body = await _read_body(request, limits.max_body_bytes)
        if body is None:
            return error(413, "too_large", f"the request is larger than this service's limit of "
                                           f"{limits.max_body_bytes / 1024 / 1024:g} MiB", {"Connection": "close"})
        try:
            header, image = decode_request(body, limits.max_pixels)
        except WireFormatError as problem:
            return error(400, "bad_request", str(problem))
        del body
        encoder = encoders.get(header["model"])
        if encoder is None:
            return error(404, "unknown_model", f"this service does not run {header['model']!r}; it runs "
                                               f"{', '.join(sorted(encoders))}")
        if header["preprocessing"] != encoder.preprocessing:
            return error(409, "preprocessing_mismatch", f"this service preprocesses {header['model']} as "
                                                        f"{encoder.preprocessing}, the app as {header['preprocessing']}: "
                                                        "update one of them")
        started = time.perf_counter()
        try:
            features, frame = await encoder.encode(image)
        except Exception as failure:  # in words, without the pixels
            log.error("encoder failed for %s: %s: %s", user, type(failure).__name__, failure)
            return error(500, "encoder_failed", f"the server's encoder failed ({type(failure).__name__}); "
                                                "the app encodes this slice itself")
        seconds = time.perf_counter() - started
        log.info("encoded for %s: %s %dx%d in %.0f ms", user, header["model"], image.shape[1], image.shape[0], seconds * 1000)
        payload = encode_response(features, frame, header["model"], encoder.model_id, encoder.preprocessing)
        return Response(payload, media_type=CONTENT_TYPE,
                        headers={"Cache-Control": "no-store", "Server-Timing": f"encode;dur={seconds * 1000:.1f}"})

    return app
