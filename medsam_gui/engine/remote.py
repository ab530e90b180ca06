"""The encoder service, desktop side: send a slice's model input, get its embedding back.

Only the image encoder needs a GPU; prompts are decoded here (about 40 ms on a CPU).
numpy, zlib, json and http.client only: no torch, no Qt.

Where the pipeline is cut: the slice crosses the wire as the uint8 model-input image
that :meth:`Engine.model_input_image` returns, i.e. after the model-input window of
``core/window.py`` and before the backend's own preprocessing (resize, min-max, pad).
The server runs the same backend code on it, so server and local give the same
embedding (up to the fp16 of the wire and the cache); the uint8 image is 4x smaller
than the float model input and cannot carry HU values, names or headers; and the
cache key (slice voxels, model-input preset, model weights, preprocessing, crop) is
computed here before anything is sent, so a server embedding lands under the key a
local one would have. That is only true when the server runs the same weights with
the same preprocessing: every response names its ``model_id`` and ``preprocessing``,
and :class:`RemoteBackend` refuses a server whose either differs from the local
backend's (the embedding would not fit the local decoder, and the key would lie).

Wire format (both directions): ``MAGIC`` (6 bytes) + header length (4 bytes, big
endian) + UTF-8 JSON header + payload.
  request  magic ``MSGEQ1``, header ``{"model", "preprocessing", "compression"}``,
           payload ``zlib(npy)`` of the uint8 image ``[H, W]`` (grey: the three
           channels are equal) or ``[H, W, 3]``. Nothing else: no file name, no
           DICOM header, no patient data, no slice index.
  response magic ``MSGER1``, header ``{"model", "model_id", "preprocessing",
           "compression", "shape", "dtype", "frame"}``, payload: the float16
           features ``[1, C, h, w]`` byte-shuffled (low bytes, then high bytes) and
           zlib-compressed.
Errors come back as JSON ``{"error": code, "message": words}`` with the HTTP status
(401 token, 413 too large, 429 rate limit, 404 unknown model, 400 bad request).
"""

from __future__ import annotations

import dataclasses
import http.client
import io
import json
import os
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import numpy as np

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.engine.frame import ModelFrame
from medsam_gui.engine.types import Embedding

REQUEST_MAGIC = b"MSGEQ1"
RESPONSE_MAGIC = b"MSGER1"
CONTENT_TYPE = "application/x-medsam-embedding"
ENCODE_PATH = "/v1/encode"
CHECK_PATH = "/v1/check"
HEALTH_PATH = "/health"
MAX_HEADER_BYTES = 4096
REQUEST_KEYS = frozenset({"model", "preprocessing", "compression"})
DEFAULT_TIMEOUT_S = 20.0
# after a failure, encode here for this long before trying the server again
DEFAULT_RETRY_AFTER_S = 30.0
TOKEN_ENV = "MEDSAM_GUI_TOKEN"
CA_FILE_ENV = "MEDSAM_GUI_SERVER_CA"


class WireFormatError(MedsamGuiError):
    """A message that is not in the encoder service's format."""


class ServiceError(MedsamGuiError):
    """The service answered with an error: ``status`` (HTTP), ``code`` (e.g.
    'bad_token'), ``retry_after_s`` for 429; the message is in words."""

    def __init__(self, message: str, status: int = 0, code: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


class ServiceUnavailable(ServiceError):
    """The service could not be reached, timed out or dropped the connection."""


class ServiceMismatch(ServiceError):
    """The service runs other weights or another preprocessing than this app."""


# -- wire format -------------------------------------------------------------------


def _pack(magic: bytes, header: dict, payload: bytes) -> bytes:
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return magic + struct.pack(">I", len(header_bytes)) + header_bytes + payload


def _unpack(body: bytes, magic: bytes) -> tuple[dict, memoryview]:
    view = memoryview(body)
    if len(body) < len(magic) + 4 or bytes(view[: len(magic)]) != magic:
        raise WireFormatError("not an encoder-service message (wrong magic bytes)")
    (length,) = struct.unpack(">I", view[len(magic) : len(magic) + 4])
    start = len(magic) + 4
    if length > MAX_HEADER_BYTES or start + length > len(body):
        raise WireFormatError("encoder-service message header is too long or cut short")
    try:
        header = json.loads(bytes(view[start : start + length]))
    except ValueError as error:
        raise WireFormatError(f"encoder-service message header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise WireFormatError("encoder-service message header must be a JSON object")
    return header, view[start + length :]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _load_npy(payload, compression: str, max_bytes: int) -> np.ndarray:
    if compression == "zlib":
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(bytes(payload), max_bytes + 1)
        except zlib.error as error:
            raise WireFormatError(f"payload is not valid zlib data ({error})") from error
        if len(raw) > max_bytes or inflater.unconsumed_tail:
            raise WireFormatError(f"payload inflates to more than {max_bytes} bytes")
    elif compression == "none":
        raw = bytes(payload)
        if len(raw) > max_bytes:
            raise WireFormatError(f"payload is larger than {max_bytes} bytes")
    else:
        raise WireFormatError(f"unknown compression {compression!r} (use 'zlib' or 'none')")
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise WireFormatError(f"payload is not an .npy array ({error})") from error


def encode_request(image_rgb_uint8: np.ndarray, model: str, preprocessing: str, compress: bool = True) -> bytes:
    """The request body for one model-input image (uint8 ``[H, W, 3]`` or ``[H, W]``).

    A grey image (three equal channels) is sent as ``[H, W]``: a third of the bytes.
    """
    image = np.asarray(image_rgb_uint8)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise MedsamGuiError(f"the encoder service takes uint8 [H, W, 3] or [H, W] images, not {image.dtype} {image.shape}")
    if image.ndim == 3 and np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2]):
        image = image[:, :, 0]
    raw = _npy_bytes(image)
    payload = zlib.compress(raw, 1) if compress else raw
    header = {"model": str(model), "preprocessing": str(preprocessing), "compression": "zlib" if compress else "none"}
    return _pack(REQUEST_MAGIC, header, payload)


def decode_request(body: bytes, max_pixels: int) -> tuple[dict, np.ndarray]:
    """(header, uint8 ``[H, W, 3]`` image) from a request body; WireFormatError if
    it is malformed, has other header fields, or holds more than ``max_pixels``."""
    header, payload = _unpack(body, REQUEST_MAGIC)
    if set(header) != REQUEST_KEYS or not all(isinstance(header[key], str) for key in REQUEST_KEYS):
        raise WireFormatError(f"request header must have exactly the string fields {sorted(REQUEST_KEYS)}")
    image = _load_npy(payload, header["compression"], 3 * max_pixels + 256)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise WireFormatError(f"image must be uint8 [H, W] or [H, W, 3], not {image.dtype} {image.shape}")
    if image.shape[0] * image.shape[1] > max_pixels or min(image.shape[:2]) < 1:
        raise WireFormatError(f"image of {image.shape[1]} x {image.shape[0]} pixels is outside 1 .. {max_pixels} pixels")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return header, np.ascontiguousarray(image)


def _frame_to_json(frame: ModelFrame) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(frame).items()}


def _frame_from_json(data: dict) -> ModelFrame:
    try:
        return ModelFrame(
            image_size_hw=tuple(int(v) for v in data["image_size_hw"]),
            content_size_hw=tuple(int(v) for v in data["content_size_hw"]),
            scale_xy=tuple(float(v) for v in data["scale_xy"]),
            input_size=int(data["input_size"]),
            lowres_size=int(data["lowres_size"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise WireFormatError(f"response frame is incomplete ({error})") from error


def encode_response(features_fp16: np.ndarray, frame: ModelFrame, model: str, model_id: str, preprocessing: str) -> bytes:
    """The response body: float16 features ``[1, C, h, w]`` and where the image sat.

    The payload is ``zlib(byte-shuffled fp16)``: all low bytes, then all high bytes
    (sign, exponent), which deflate about twice as well as interleaved ones.
    """
    features = np.ascontiguousarray(features_fp16, dtype=np.float16)
    shuffled = features.view(np.uint8).reshape(-1, 2).T.tobytes()
    header = {"model": model, "model_id": model_id, "preprocessing": preprocessing, "compression": "zlib+shuffle2",
              "shape": list(features.shape), "dtype": "float16", "frame": _frame_to_json(frame)}
    return _pack(RESPONSE_MAGIC, header, zlib.compress(shuffled, 1))


def decode_response(body: bytes, max_bytes: int = 512 * 1024 * 1024) -> tuple[dict, np.ndarray, ModelFrame]:
    """(header, float16 features ``[1, C, h, w]``, frame) from a response body."""
    header, payload = _unpack(body, RESPONSE_MAGIC)
    for key in ("model", "model_id", "preprocessing", "compression", "shape", "dtype", "frame"):
        if key not in header:
            raise WireFormatError(f"response header lacks {key!r}")
    shape = tuple(int(v) for v in header["shape"])
    if header["compression"] != "zlib+shuffle2" or header["dtype"] != "float16" or len(shape) != 4:
        raise WireFormatError(f"features must come as zlib+shuffle2 float16 [1, C, h, w], not "
                              f"{header['compression']} {header['dtype']} {shape}")
    expected = 2 * int(np.prod(shape))
    if expected > max_bytes:
        raise WireFormatError(f"features of shape {shape} are larger than {max_bytes} bytes")
    try:
        raw = zlib.decompressobj().decompress(bytes(payload), expected + 1)
    except zlib.error as error:
        raise WireFormatError(f"features are not valid zlib data ({error})") from error
    if len(raw) != expected:
        raise WireFormatError(f"features hold {len(raw)} bytes, shape {shape} needs {expected}")
    features = np.frombuffer(raw, np.uint8).reshape(2, -1).T.copy().view(np.float16).reshape(shape)
    return header, features, _frame_from_json(header["frame"])


# -- the client ----------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile or os.environ.get(CA_FILE_ENV) or None)
    return context


class EncoderServiceClient:
    """Talks to one encoder service. Thread-safe: one keep-alive connection per thread.

    ``url``: ``http(s)://host:port[/prefix]``; ``token``: the user's token (default:
    the MEDSAM_GUI_TOKEN environment variable); ``cafile``: a PEM file of the CA or the
    self-signed certificate to trust (default: MEDSAM_GUI_SERVER_CA, else the system's).
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 cafile: str | None = None) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MedsamGuiError(f"encoder service address must look like https://host:port, not {url!r}")
        self.url = url.strip().rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.timeout_s = float(timeout_s)
        self.cafile = cafile
        self._local = threading.local()
        self.last_request_bytes = 0
        self.last_response_bytes = 0
        self.last_server_encode_ms = float("nan")

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self.scheme == "https":
                connection = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s,
                                                         context=_ssl_context(self.cafile))
            else:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def request(self, method: str, path: str, body: bytes | None = None, auth: bool = True) -> tuple[int, dict, bytes]:
        """(status, lower-case headers, body). ServiceUnavailable when the server cannot be
        reached or the connection breaks; a stale keep-alive connection is retried once."""
        headers = {"Content-Type": CONTENT_TYPE} if body is not None else {}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):
            connection = self._connection()
            try:
                connection.request(method, self.prefix + path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.close()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except ssl.SSLCertVerificationError as error:
                self.close()
                raise ServiceUnavailable(f"encoder service {self.url}: its TLS certificate is not trusted "
                                         f"({error.verify_message}); give its CA file") from error
            except (socket.timeout, TimeoutError) as error:
                self.close()
                raise ServiceUnavailable(f"encoder service {self.url} did not answer within {self.timeout_s:g} s") from error
            except (ConnectionError, http.client.HTTPException, ssl.SSLError, OSError) as error:
                self.close()
                stale = attempt == 0 and isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError,
                                                            ConnectionResetError)) and getattr(self._local, "used", False)
                self._local.used = False
                if stale:
                    continue
                raise ServiceUnavailable(f"encoder service {self.url} cannot be reached "
                                         f"({type(error).__name__}: {error})") from error
            finally:
                self._local.used = True
        raise ServiceUnavailable(f"encoder service {self.url} cannot be reached")

    def _raise_for_status(self, status: int, headers: dict, data: bytes) -> None:
        if status == 200:
            return
        try:
            detail = json.loads(data)
            code, message = str(detail.get("error", "")), str(detail.get("message", ""))
        except (ValueError, AttributeError):
            code, message = "", data[:200].decode("utf-8", "replace")
        retry = headers.get("retry-after")
        raise ServiceError(f"encoder service {self.url}: {message or 'error'} (HTTP {status})", status, code,
                           float(retry) if retry else None)

    def health(self) -> dict:
        """``GET /health`` (no token): ``{"status": "ok", "models": [names]}``."""
        status, headers, data = self.request("GET", HEALTH_PATH, auth=False)
        self._raise_for_status(status, headers, data)
        return json.loads(data)

    def check(self) -> dict:
        """``GET /v1/check`` (token): ``{"user", "models": [{"name", "model_id", "preprocessing"}]}``."""
        status, headers, data = self.request("GET", CHECK_PATH)
        self._raise_for_status(status, headers, data)
        return json.loads(data)

    def encode(self, image_rgb_uint8: np.ndarray, model: str, preprocessing: str) -> tuple[np.ndarray, ModelFrame, dict]:
        """(float16 features ``[1, C, h, w]``, frame, response header) for one image."""
        body = encode_request(image_rgb_uint8, model, preprocessing)
        self.last_request_bytes = len(body)
        status, headers, data = self.request("POST", ENCODE_PATH, body)
        self._raise_for_status(status, headers, data)
        self.last_response_bytes = len(data)
        timing = headers.get("server-timing", "")  # "encode;dur=MS": the server's own encoder time
        self.last_server_encode_ms = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
        header, features, frame = decode_response(data)
        return features, frame, header


# -- the connection check (the Model panel's "Test connection") -----------------------


@dataclass(frozen=True)
class CheckStep:
    """One step of a connection check: ``name``, passed or not, and what was found."""

    name: str
    ok: bool
    detail: str


def check_connection(url: str, token: str | None, model: str, preprocessing: str, model_id: str | None = None,
                     timeout_s: float = 10.0, cafile: str | None = None) -> list[CheckStep]:
    """Check each step in turn and stop at the first that fails: address reachable,
    TLS, token, model and preprocessing version, round-trip time of one encode."""
    steps: list[CheckStep] = []
    try:
        client = EncoderServiceClient(url, token, timeout_s, cafile)
    except MedsamGuiError as error:
        return [CheckStep("address", False, str(error))]
    started = time.perf_counter()
    try:
        with socket.create_connection((client.host, client.port), timeout=timeout_s):
            pass
    except OSError as error:
        return [CheckStep("address reachable", False, f"{client.host}:{client.port}: {error}")]
    steps.append(CheckStep("address reachable", True, f"{client.host}:{client.port} in {(time.perf_counter() - started) * 1000:.0f} ms"))
    if client.scheme == "https":
        try:
            context = _ssl_context(cafile)
            with socket.create_connection((client.host, client.port), timeout=timeout_s) as raw:
                with context.wrap_socket(raw, server_hostname=client.host) as tls:
                    version = tls.version()
                    subject = dict(item[0] for item in tls.getpeercert().get("subject", ()))
            steps.append(CheckStep("TLS", True, f"{version}, certificate for {subject.get('commonName', client.host)} trusted"))
        except ssl.SSLCertVerificationError as error:
            steps.append(CheckStep("TLS", False, f"certificate not trusted: {error.verify_message} "
                                                 "(give the server's CA or certificate file)"))
            return steps
        except (ssl.SSLError, OSError) as error:
            steps.append(CheckStep("TLS", False, f"no TLS handshake: {error}"))
            return steps
    elif is_loopback_host(client.host):
        steps.append(CheckStep("TLS", True, "plain HTTP on this computer (loopback): nothing leaves it"))
    else:
        steps.append(CheckStep("TLS", False, "plain HTTP over the network: slices would travel unencrypted; use https://"))
        return steps
    try:
        checked = client.check()
    except ServiceError as error:
        steps.append(CheckStep("token", False, str(error)))
        return steps
    steps.append(CheckStep("token", True, f"accepted for user {checked.get('user', '?')}"))
    served = {entry.get("name"): entry for entry in checked.get("models", [])}
    entry = served.get(model)
    if entry is None:
        steps.append(CheckStep("model", False, f"the server does not run {model!r} (it runs {', '.join(map(str, served)) or 'nothing'})"))
        return steps
    if entry.get("preprocessing") != preprocessing or (model_id and entry.get("model_id") != model_id):
        steps.append(CheckStep("model", False, f"the server's {model} differs from this app's: weights {entry.get('model_id')} "
                                               f"vs {model_id}, preprocessing {entry.get('preprocessing')} vs {preprocessing}"))
        return steps
    steps.append(CheckStep("model", True, f"{model}, weights {entry.get('model_id')}, preprocessing {preprocessing}"))
    probe = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    try:
        started = time.perf_counter()
        client.encode(np.repeat(probe[:, :, None], 3, axis=2), model, preprocessing)
        elapsed_ms = (time.perf_counter() - started) * 1000
    except (ServiceError, WireFormatError) as error:
        steps.append(CheckStep("round trip", False, str(error)))
        return steps
    finally:
        client.close()
    steps.append(CheckStep("round trip", True, f"one 256 x 256 slice encoded in {elapsed_ms:.0f} ms "
                                               f"({client.last_request_bytes / 1024:.0f} KiB up, "
                                               f"{client.last_response_bytes / 1024:.0f} KiB down)"))
    return steps


# -- the backend wrapper the Engine uses -----------------------------------------------


class RemoteBackend:
    """A model backend whose ``encode`` goes to an encoder service and whose ``decode``
    (and everything else) is the local backend's.

    When the service is slow (timeout), gone, refuses the token or runs other weights,
    the slice is encoded here instead, and a message in words is queued
    (:meth:`take_messages`) and passed to ``on_status``; the server is tried again
    after ``retry_after_s``. Nothing the user did depends on the server: the embedding
    is the same either way and lands under the same cache key.
    """

    def __init__(self, local_backend, client: EncoderServiceClient, retry_after_s: float = DEFAULT_RETRY_AFTER_S,
                 on_status: Callable[[str], None] | None = None) -> None:
        self.local = local_backend
        self.client = client
        self.retry_after_s = float(retry_after_s)
        self.on_status = on_status
        self._messages: deque[str] = deque(maxlen=20)
        self._lock = threading.Lock()
        self._local_until = 0.0
        self.remote_count = 0
        self.local_count = 0
        self.using_server = True

    def __getattr__(self, name):  # model_id, preprocessing_signature, decode, frame_for, ...
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)

    @property
    def info(self):
        info = self.local.info
        where = f"server {self.client.host}" if self.using_server else f"{info.device} (server unavailable)"
        return dataclasses.replace(info, device=where)

    def _report(self, message: str) -> None:
        with self._lock:
            self._messages.append(message)
        if self.on_status is not None:
            try:
                self.on_status(message)
            except Exception:  # a listener's bug must not stop encoding
                pass

    def take_messages(self) -> list[str]:
        """Messages since the last call, oldest first."""
        with self._lock:
            messages = list(self._messages)
            self._messages.clear()
        return messages

    def encode(self, image_rgb_uint8: np.ndarray, between_blocks=None) -> Embedding:
        """As the local backend's ``encode``; on the server while it answers."""
        if time.monotonic() >= self._local_until:
            try:
                features, frame, header = self.client.encode(image_rgb_uint8, self.local.name,
                                                             self.local.preprocessing_signature)
                if header["model_id"] != self.local.model_id or header["preprocessing"] != self.local.preprocessing_signature:
                    raise ServiceMismatch(
                        f"encoder service {self.client.url} runs {header['model']} with weights {header['model_id']} and "
                        f"preprocessing {header['preprocessing']}; this app has {self.local.model_id} / "
                        f"{self.local.preprocessing_signature}", 409, "model_mismatch")
                if frame != self.local.frame_for(tuple(image_rgb_uint8.shape[:2])):
                    raise ServiceMismatch(f"encoder service {self.client.url} placed the image differently "
                                          "in the model input", 409, "frame_mismatch")
            except (ServiceError, WireFormatError) as error:
                self._fall_back(error)
            else:
                if not self.using_server:
                    self._report(f"Encoder service {self.client.url} is back: encoding there again")
                self.using_server = True
                self.remote_count += 1
                return Embedding(self.local.features_from_array(features), frame)
        self.local_count += 1
        return self.local.encode(image_rgb_uint8, between_blocks=between_blocks)

    def _fall_back(self, error: Exception) -> None:
        wait_s = self.retry_after_s
        if isinstance(error, ServiceError) and error.status == 429 and error.retry_after_s:
            wait_s = max(error.retry_after_s, 1.0)
        elif isinstance(error, ServiceError) and error.status == 413:
            wait_s = 0.0  # only this image was too large
        self._local_until = time.monotonic() + wait_s
        self.using_server = False
        retry = f"; the server is tried again in {wait_s:.0f} s" if wait_s else ""
        self._report(f"{error} - encoding on this computer ({self.local.info.device}) instead{retry}")


def connect_engine(engine, url: str, token: str | None, timeout_s: float = DEFAULT_TIMEOUT_S,
                   cafile: str | None = None, on_status: Callable[[str], None] | None = None) -> RemoteBackend:
    """Encode ``engine``'s slices on the service at ``url`` from now on (decode stays here).

    The cache keys do not change (same weights, same preprocessing), so what is cached
    stays valid; a job in flight finishes on the encoder it started with.
    """
    local = disconnect_engine(engine)
    remote = RemoteBackend(local, EncoderServiceClient(url, token, timeout_s, cafile), on_status=on_status)
    engine.backend = remote
    return remote


def disconnect_engine(engine):
    """Encode ``engine``'s slices here again; returns the local backend."""
    backend = engine.backend
    if isinstance(backend, RemoteBackend):
        engine.backend = backend.local
        backend.client.close()
        return backend.local
    return backend
