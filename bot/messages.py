"""Every sentence the bot says to people, in one place."""

from __future__ import annotations

ADMIN_ONLY = "Sorry, `{command}` is for admins only. Ask one of your bot admins to run it."
WRONG_SCOPE = "`{command}` doesn't work in this kind of conversation."
USAGE_ERROR = "{reason}\n\nUsage: `{usage}`"  # the usage has no angle brackets: chat markdown eats them
EMPTY_COMMAND = "Hi! Type `help` to see what I can do."
UNKNOWN_COMMAND = "I don't know `{said}`. Type `help` to see every command."
UNKNOWN_COMMAND_GUESS = "I don't know `{said}`. Did you mean `{guess}`? Type `help` to see every command."
INTERNAL_ERROR = "Something went wrong on my side while doing that. It has been logged; please try again."

SYNC_STARTED = "Sync started. I'll post the summary here when it ends."
SYNC_JOINED = "A sync is already running (started {started}). I'll post its summary here when it ends."
SYNC_DISABLED_NOT_SIGNED_IN = "Sync can't reach Partner Center: no one is signed in. An admin can run `/login`."

NOTIFY_HERE_ONLY_CHANNEL = "`notify here` works in a team channel: run it in the channel that should get the cards."
NOTIFY_HERE_DONE = "Done: new co-sell referral cards will be posted in this channel."
NOTIFY_HERE_ALREADY = "This channel already gets the new co-sell referral cards."

LOGIN_PERSONAL_ONLY = (
    "For safety, `/login` only works in a personal chat with me: a sign-in code shown here could be "
    "used by anyone in this conversation."
)
LOGOUT_PERSONAL_ONLY = "`/logout` only works in a personal chat with me."
SIGNIN_NOT_AVAILABLE = "Sign-in from chat is not available yet."

REFERRAL_NOT_FOUND = "I have no referral with id `{referral_id}`. Try `referrals` to list them."
LEAD_NOT_FOUND = "I have no lead for `{domain}` yet. Leads come from referrals with a customer email domain."
NO_LEADS = "No leads yet. They appear after a sync finds referrals with customer email domains."

BAD_DOMAIN = "`{value}` doesn't look like a domain."
BAD_REFERRAL_ARGS = "I didn't understand `{value}`."
BAD_PAGE = "The page number must be a whole number of 1 or more."

WELCOME_PERSONAL = "Hi, I'm the referral bot. I post new Partner Center co-sell referrals and answer `help`."
WELCOME_TEAM_CONFIGURED = (
    "Hi team! I post new Partner Center co-sell referrals in the sales channel. Type `help` to see more."
)
WELCOME_TEAM = (
    "Hi team! I post new Partner Center co-sell referrals. An admin can type `notify here` in the channel "
    "that should receive them."
)

SIGNIN_LOST_ADMIN_NOTICE = (
    "Partner Center sign-in stopped working ({reason}). Syncing is paused until someone signs in again: "
    "run `/login` here."
)
REMINDER = "⏰ This co-sell referral expires in {left} and is not accepted yet."

ACTION_INVALID_TITLE = "That button didn't work"
ACTION_INVALID = "This card's button sent something I don't understand. Try `referrals` for a fresh card."
ACTION_NO_REFERRAL = "This card doesn't name a referral."
ACTION_BAD_PAGE = "This page button is out of date. Try `referrals` again."
NO_LEAD_FOR_REFERRAL = "No lead yet: this referral has no customer email domain."
NEED_REFERRAL_ID = "Tell me which referral: `referral ID`, with the id from its card or from `referrals`."
NEED_DOMAIN = "Tell me which customer domain: `lead contoso.com`."
NO_ARGUMENTS = "`{command}` takes no arguments."

# --- Partner Center sign-in: /login, /logout, the token source (sign-in work; append-only) ---------------

MAKE_TOKEN_CACHE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
TOKEN_CACHE_KEY_MISSING = (
    "TOKEN_CACHE_KEY is not set, so I can't store a Partner Center sign-in safely. Make a key with "
    f"`{MAKE_TOKEN_CACHE_KEY}`, set TOKEN_CACHE_KEY to it and restart the bot."
)
TOKEN_CACHE_KEY_MALFORMED = (
    "TOKEN_CACHE_KEY is not a valid key (it must be 32 url-safe base64-encoded bytes, as Fernet makes them). "
    f"Make one with `{MAKE_TOKEN_CACHE_KEY}`, set TOKEN_CACHE_KEY to it and restart the bot."
)
TOKEN_CACHE_KEY_WRONG = (
    "The stored Partner Center sign-in can't be decrypted with the current TOKEN_CACHE_KEY (was the key "
    "changed?). An admin can run `/login` in a personal chat with me to sign in again."
)
AZURE_CLIENT_ID_MISSING = (
    "Sign-in isn't set up: AZURE_CLIENT_ID is empty. Set it to the Application (client) ID of the "
    "public-client app registration (and AZURE_TENANT_ID to your tenant id), then restart the bot."
)
PARTNER_CENTER_SCOPE_UNUSABLE = (
    "Sign-in isn't set up: PARTNER_CENTER_SCOPE must name the Partner Center API, but it is '{scope}'. Unset it "
    "(the default is https://api.partner.microsoft.com/.default), then restart the bot."
)
NOT_SIGNED_IN = "No one is signed in to Partner Center. An admin can run `/login` in a personal chat with me."
SIGNIN_NEEDS_LOGIN = (
    "The Partner Center sign-in stopped working ({reason}). An admin can run `/login` in a personal chat with me."
)
SIGNIN_REFRESH_REJECTED = "Entra ID refused to renew it: {error}{description}"
ENTRA_ANSWERED = "Entra ID answered {error}{description}"
SIGNIN_NO_REFRESH_TOKEN = "the stored sign-in has no refresh token left"
ENTRA_UNREACHABLE = "Entra ID could not be reached at {authority} ({reason})."
SIGNIN_UNREADABLE_WRONG_KEY = (
    "sign-in unreadable: TOKEN_CACHE_KEY is not the key it was stored with; set that key again, or sign in anew"
)
SIGNIN_UNREADABLE_NO_KEY = (
    "sign-in unreadable: TOKEN_CACHE_KEY is not set; set it to the key the sign-in was stored with"
)
SIGNIN_UNREADABLE_BAD_KEY = "sign-in unreadable: TOKEN_CACHE_KEY is not a valid Fernet key"

LOGIN_CARD_TITLE = "Sign in to Partner Center"
LOGIN_CARD_STEPS = (
    "1. Open the sign-in page with the button below.\n"
    "2. Enter this code and sign in with the Partner Center admin account:"
)
LOGIN_CARD_EXPIRES = "The code works until {expires}. I'll tell you here when the sign-in is done."
LOGIN_CARD_OPEN = "Open sign-in page"
LOGIN_SIGNED_IN = "Signed in to Partner Center as {username}. Scheduled syncs use this account from now on."
LOGIN_SIGNED_IN_UNKNOWN = (
    "Signed in to Partner Center, but Entra ID didn't say which account (its answer had no id token). "
    "Scheduled syncs use this sign-in from now on."
)
LOGIN_NO_REFRESH_TOKEN = (
    "⚠️ Entra ID gave no refresh token with this sign-in, so I can't renew it: syncing stops when the access "
    "token expires ({expires}) and someone must run `/login` again. Check that the app registration may get "
    "refresh tokens (offline_access) and that no policy removes them."
)
LOGIN_NO_ACCOUNT = "Entra ID's answer named no account I could keep, so nothing changed"
LOGIN_DECLINED = "The sign-in was declined, so nothing changed. Run `/login` to try again."
LOGIN_TIMEOUT = "The sign-in code expired before it was used, so nothing changed. Run `/login` for a new one."
LOGIN_REPLACED = "That sign-in code is no longer valid: a newer `/login` replaced it."
LOGIN_CANCELLED = "The sign-in was cancelled by `/logout`, so that code no longer works. Run `/login` to sign in."
LOGIN_SHUTDOWN = (
    "I'm shutting down (a restart or an update), so I stopped waiting for that sign-in code: it no longer works "
    "and nothing changed. Run `/login` again when I'm back."
)
LOGIN_FAILED = "The sign-in didn't work ({reason}). Run `/login` to try again."
LOGIN_COULD_NOT_START = "I couldn't start a sign-in: {reason}"
LOGOUT_DONE = (
    "Signed out: I forgot the stored Partner Center sign-in{who}. Syncing pauses until an admin runs `/login`."
)
LOGOUT_DONE_WHO = " of {username}"
LOGOUT_NOTHING = "No Partner Center sign-in was stored, so there was nothing to forget."

# --- Accept on a referral card, expiry reminders (notification work; append-only) -------------------------

ACCEPT_ALREADY_BY = "Already accepted by {name}."
ACCEPT_ALREADY = "Already accepted in Partner Center."
ACCEPT_CLOSED = "This referral is closed ({substatus}); it can't be accepted any more."
ACCEPT_NOT_POSSIBLE = "This referral is {status}; only a New referral can be accepted."
ACCEPT_CONFLICT = "This referral changed in Partner Center while I was accepting it. Please try again."
ACCEPT_NOT_SIGNED_IN = (
    "Not accepted: no one is signed in to Partner Center. An admin can run `/login` in a personal chat with me."
)
ACCEPT_AUTH_FAILED = "Not accepted: Partner Center refused the bot's sign-in. An admin can run `/login` again."
ACCEPT_FORBIDDEN = (
    "Not accepted: the account signed in to Partner Center isn't allowed to accept this referral (it needs the "
    "Referrals Admin or Referrals User role, with this deal in its scope). Signing in again won't help; ask a "
    "Partner Center admin to grant the role, or to accept it in Partner Center."
)
ACCEPT_UNAVAILABLE = "Not accepted: Partner Center isn't answering right now. Nothing changed; please try again."
ACCEPT_FAILED = (
    "Accept didn't finish: something went wrong on my side (it has been logged), so I can't tell whether Partner "
    "Center took it. This card shows the referral as I have it; press Accept again to check (it never accepts twice)."
)
OPEN_IN_PARTNER_CENTER = "Open referral in Partner Center"
