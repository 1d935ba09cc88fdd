"""`referrals`, `referral <id>`, `lead <domain>`, `leads`: answers read from the stored referrals and leads."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot import messages
from bot.actions import KINDS, MAX_PAGE, PAGE_SIZE, STATUS_WORDS, referrals_list
from bot.router import CommandRequest, Reply, Router, echo
from cards.lead import lead_card, leads_card
from cards.referral import referral_card
from core.errors import CommandError
from poller.domains import display_domain, normalize_domain
from storage import queries


def parse_referrals_args(args: list[str]) -> tuple[str | None, str | None, int]:
    """`[kind] [status] [page N]` in any order → (kind or None for all, status word or None for open, page)."""
    kind: str | None = None
    status: str | None = None
    page = 1
    words = [w.lower() for w in args]
    i = 0
    while i < len(words):
        word = words[i]
        if word in KINDS or word == "all":
            kind = None if word == "all" else word
        elif word in STATUS_WORDS:
            status = word
        elif word == "page":
            number = words[i + 1] if i + 1 < len(words) else ""
            # isascii: "²" is a digit to str.isdigit(); MAX_PAGE: a database integer has its limits
            if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= MAX_PAGE:
                raise CommandError(messages.BAD_PAGE)
            page = int(words[i + 1])
            i += 1
        else:
            raise CommandError(messages.BAD_REFERRAL_ARGS.format(value=echo(args[i], 40)))
        i += 1
    return kind, status, page


def domain_from_user_text(text: str) -> str | None:
    """What people type for a company: `contoso.com`, `https://www.contoso.com/x`, `jo@mail.contoso.com`."""
    text = text.strip().strip("<>`'\"")
    text = text.removeprefix("mailto:").rsplit("@", 1)[-1]
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return normalize_domain(host)


def register(router: Router) -> None:
    @router.command("referrals", usage="referrals [co-sell|marketplace|ms-lead|all] [new|active|closed] [page N]")
    async def referrals(req: CommandRequest) -> Reply:
        """List stored referrals by kind and status, a page at a time."""
        kind, status, page = parse_referrals_args(req.args)
        return Reply(card=await referrals_list(req.services, kind=kind, status=status, page=page))

    @router.command("referral", usage="referral <id>")
    async def referral(req: CommandRequest) -> Reply:
        """Show one referral's card."""
        if len(req.args) != 1:
            raise CommandError(messages.NEED_REFERRAL_ID)
        referral_id = req.args[0].strip("`'\"<>")
        found = await req.services.read(queries.get_referral, referral_id)
        if found is None:
            return Reply(text=messages.REFERRAL_NOT_FOUND.format(referral_id=echo(referral_id, 64)))
        lead = await req.services.read(queries.get_lead, found.lead_id)
        settings = req.services.settings
        return Reply(
            card=referral_card(found, lead=lead, portal_url=settings.partner_center_portal_url, now=req.services.now())
        )

    @router.command("lead", usage="lead <domain>")
    async def lead(req: CommandRequest) -> Reply:
        """Show the lead for a customer domain: segment, score and why."""
        if len(req.args) != 1:
            raise CommandError(messages.NEED_DOMAIN)
        domain = domain_from_user_text(req.args[0])
        if domain is None:
            raise CommandError(messages.BAD_DOMAIN.format(value=echo(req.args[0])))
        found = await req.services.read(queries.lead_by_domain, domain)
        if found is None:
            return Reply(text=messages.LEAD_NOT_FOUND.format(domain=display_domain(domain)))
        scan, linked = await req.services.read(queries.lead_details, found)
        return Reply(card=lead_card(found, scan=scan, referrals=linked))

    @router.command("leads")
    async def leads(req: CommandRequest) -> Reply:
        """Show the top leads by score."""
        if req.args:
            raise CommandError(messages.NO_ARGUMENTS.format(command="leads"))
        return Reply(card=leads_card(await req.services.read(queries.top_leads, limit=PAGE_SIZE)))
