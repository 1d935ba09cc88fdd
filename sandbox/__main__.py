"""`python -m sandbox`: serve the fake Microsoft services (Partner Center, Entra ID) until Ctrl-C / SIGTERM.

Each service is started with its package's `serve(...)`; add more services next to the Partner Center one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from sandbox import entra, partner_center


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101, help="Partner Center simulator port (0: any free)")
    parser.add_argument(
        "--seed-file",
        type=Path,
        default=partner_center.SEED_FILE,
        help="JSON file of referrals to start with (default: the documented examples)",
    )
    parser.add_argument("--no-seed", action="store_true", help="start without the seed file")
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="add N synthetic referrals")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --generate")
    parser.add_argument("--page-cap", type=int, default=None, help="at most this many items per page")
    parser.add_argument("--entra-port", type=int, default=8102, help="fake Entra ID port, HTTPS (0: any free)")
    parser.add_argument(
        "--ca-file",
        type=Path,
        default=Path("data/sandbox/ca.pem"),
        help="where to write the fake Entra's CA certificate (REQUESTS_CA_BUNDLE for the bot)",
    )
    parser.add_argument("--token-lifetime", type=int, default=3600, help="fake Entra access-token lifetime (s)")
    parser.add_argument(
        "--entra-tokens-only",
        action="store_true",
        help="the Partner Center simulator accepts only access tokens the fake Entra issued",
    )
    args = parser.parse_args(argv)
    if args.page_cap is not None and args.page_cap < 1:
        parser.error("--page-cap must be a positive integer")
    if args.generate < 0:
        parser.error("--generate must not be negative")
    return args


def build_partner_center_store(args: argparse.Namespace) -> partner_center.ReferralStore:
    store = partner_center.ReferralStore()
    if not args.no_seed:
        store.add_many(partner_center.ReferralStore.from_file(args.seed_file).all())
    if args.generate:
        store.add_many(partner_center.generate_referrals(args.generate, seed=args.seed))
    return store


async def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    try:
        store = build_partner_center_store(args)
    except (OSError, ValueError) as exc:  # unreadable file, bad JSON
        raise SystemExit(f"python -m sandbox: cannot load the seed file {args.seed_file}: {exc}") from None
    fake_entra = entra.FakeEntra(access_token_lifetime=args.token_lifetime)
    validator = fake_entra.is_valid_access_token if args.entra_tokens_only else None
    app = partner_center.create_app(store, page_cap=args.page_cap, token_validator=validator)
    services: list[partner_center.RunningService | entra.RunningEntra] = []
    try:
        services.append(await partner_center.serve(app, host=args.host, port=args.port))
    except OSError as exc:  # port in use, bad host
        raise SystemExit(f"python -m sandbox: cannot listen on {args.host}:{args.port}: {exc}") from None
    for service in services:
        print(f"{service.name}: {service.url}{partner_center.API_PREFIX} ({len(store)} referrals)", flush=True)
    try:
        tls = entra.generate_tls(args.ca_file, include_public_roots=True)
        login = await entra.serve(entra.create_app(fake_entra), ssl_context=tls.server_context(), port=args.entra_port)
    except OSError as exc:  # unwritable CA file, port in use
        raise SystemExit(f"python -m sandbox: cannot start the fake Entra ID: {exc}") from None
    services.append(login)
    print(
        f"{login.name}: AZURE_AUTHORITY_HOST={login.url} REQUESTS_CA_BUNDLE={tls.ca_cert} "
        f"(approve /login codes at {login.url}/devicelogin)",
        flush=True,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for service in reversed(services):
        await service.close()
    print("sandbox stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
