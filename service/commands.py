"""The service's commands: ``attnserve serve`` and ``attnserve health`` (the images'
HEALTHCHECK)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.flags import device_flag


def _cmd_serve(args: argparse.Namespace) -> int:
    from service.settings import SettingsError, describe, load_settings

    if args.settings:
        for var, default, text in describe():
            print(f"{var:<32} {default:<22} {text}")
        return 0
    try:
        settings = load_settings(
            {
                "host": args.host,
                "port": args.port,
                "model_repository": args.model_repository,
                "device": args.device,
            }
        )
    except SettingsError as e:
        print(f"attnserve serve: error: {e}", file=sys.stderr)
        return 2
    from service.server import serve

    serve(settings)
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the service answers ready (the images' HEALTHCHECK); 1 otherwise."""
    import os
    import urllib.error
    import urllib.request

    port = args.port or int(os.environ.get("ATTNSERVE_PORT", "8000"))
    url = args.url or f"http://127.0.0.1:{port}/v2/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as r:
            ok = r.status == 200
    except (urllib.error.URLError, OSError) as e:
        print(f"not ready: {url}: {e}", file=sys.stderr)
        return 1
    print(f"ready: {url}" if ok else f"not ready: {url}")
    return 0 if ok else 1


def _serve(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Start the service. Every setting is also an ATTNSERVE_* environment "
        "variable (flags win); --settings lists them all with their defaults."
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8000)")
    p.add_argument("--model-repository", type=Path, help="default: ./model_repository")
    device_flag(p, "execution provider (default: $ATTNSERVE_DEVICE or auto)", default=None)
    p.add_argument("--settings", action="store_true", help="print every setting and exit")
    p.set_defaults(func=_cmd_serve)


def _health(p: argparse.ArgumentParser) -> None:
    p.description = "GET /v2/health/ready on the local service; exit 0 when it answers 200."
    p.add_argument("--port", type=int, help="default: $ATTNSERVE_PORT or 8000")
    p.add_argument("--url", help="full readiness URL (overrides --port)")
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        help="seconds to wait for the answer before calling the service not ready (default 2)",
    )
    p.set_defaults(func=_cmd_health)


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "serve": _serve,
    "health": _health,
}
