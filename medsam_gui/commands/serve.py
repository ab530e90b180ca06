"""``medsam-gui serve``: the encoder service (install ``medsam-gui[server]``).

    medsam-gui serve [--model NAME]... [--device D] [--host 127.0.0.1] [--port N]
                     [--tls-cert FILE --tls-key FILE] [--tokens FILE]
                     [--allow-plain-http-on-network] [--ray [--ray-address A] [--replicas N]]
    medsam-gui serve token add NAME [--tokens FILE]     prints a new token once
    medsam-gui serve token revoke NAME [--tokens FILE]
    medsam-gui serve token list [--tokens FILE]

Desktops send the model-input pixels of one slice and get the embedding back; they
decode prompts themselves (``segment --server URL``, the Model panel).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging

from medsam_gui.core.errors import MedsamGuiError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", default=None,
                        help="model to serve: litemedsam (default), medsam, sam, a folder or .pth; repeatable")
    from medsam_gui.engine.models.device import DEVICE_CHOICES, DEVICE_HELP

    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this computer only)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--tokens", dest="tokens_file", help="token file (default: serve_tokens.json in the config folder)")
    parser.add_argument("--allow-plain-http-on-network", action="store_true",
                        help="allow plain HTTP on a non-loopback address (only on a network you trust)")
    parser.add_argument("--max-body-mb", type=float, default=16.0, help="largest request body in MiB (413 above)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests a second per token (429 above)")
    parser.add_argument("--burst", type=int, default=100, help="requests a token may send at once")
    parser.add_argument("--ray", action="store_true", help="run the encoder as a Ray Serve deployment (batching, replicas)")
    parser.add_argument("--ray-address", help="with --ray: an existing Ray cluster ('auto', ray://host:10001)")
    parser.add_argument("--replicas", type=int, help="with --ray: encoder replicas (default one per GPU)")
    actions = parser.add_subparsers(dest="serve_action", metavar="token")
    token = actions.add_parser("token", help="add, revoke or list the users' tokens")
    token_actions = token.add_subparsers(dest="token_action", required=True)
    for name, text in (("add", "create a token for NAME and print it once"), ("revoke", "revoke NAME's token"),
                       ("list", "list the names that have a token")):
        sub = token_actions.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("name")
        sub.add_argument("--tokens", dest="token_file", help="token file (default: in the config folder)")


def _token_command(args) -> int:
    from medsam_gui.serve.tokens import TokenStore

    store = TokenStore(args.token_file or args.tokens_file)
    if args.token_action == "add":
        token = store.add(args.name)
        print(token)
        print(f"# token for {args.name} (shown once; the file {store.path} keeps only a salted hash)")
    elif args.token_action == "revoke":
        if not store.revoke(args.name):
            raise MedsamGuiError(f"no token named {args.name!r}", store.path)
        print(f"revoked the token of {args.name}")
    else:
        for name in store.names():
            print(name)
    return 0


def build_encoders(models: list[str], device: str, ray: bool = False, ray_address: str | None = None,
                   replicas: int | None = None) -> dict:
    """model name -> encoder (in process, or on Ray Serve)."""
    from medsam_gui.serve.encoders import InProcessEncoder, RayEncoder

    encoders = {}
    for model in models:
        if ray:
            encoder = RayEncoder(model, device, replicas, ray_address)
        else:
            from medsam_gui.engine.models import load_backend

            encoder = InProcessEncoder(load_backend(model, device=device))
        encoders[encoder.name] = encoder
    return encoders


def run(args: argparse.Namespace) -> int:
    if args.serve_action == "token":
        return _token_command(args)
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if args.ray and importlib.util.find_spec("ray") is None:
        missing.append("ray[serve]")
    if missing:
        raise MedsamGuiError(f"the encoder service needs {', '.join(missing)}: pip install 'medsam-gui[server]'")
    from medsam_gui.serve.app import Limits, build_app
    from medsam_gui.serve.runner import Listen, check_listen, serve_forever
    from medsam_gui.serve.tokens import TokenStore

    listen = Listen(args.host, args.port, args.tls_cert, args.tls_key, args.allow_plain_http_on_network)
    check_listen(listen)  # before loading any model
    tokens = TokenStore(args.tokens_file)
    if tokens.count() == 0:
        raise MedsamGuiError(f"no tokens in {tokens.path}: create one with `medsam-gui serve token add NAME`")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    encoders = build_encoders(args.model or ["litemedsam"], args.device, args.ray, args.ray_address, args.replicas)
    limits = Limits(max_body_bytes=int(args.max_body_mb * 1024 * 1024), rate_per_s=args.rate, burst=args.burst)
    scheme = "https" if args.tls_cert else "http"
    for name, encoder in encoders.items():
        print(f"{name}: weights {encoder.model_id} on {encoder.device}")
    print(f"encoder service on {scheme}://{args.host}:{args.port} ({tokens.count()} token(s) in {tokens.path}); Ctrl+C stops")
    serve_forever(build_app(encoders, tokens, limits), listen)
    return 0
