"""Every sentence the bot says to people, in one place."""

from __future__ import annotations

ADMIN_ONLY = "Sorry, `{command}` is for admins only. Ask one of your bot admins to run it."
WRONG_SCOPE = "`{command}` doesn't work in this kind of conversation."
USAGE_ERROR = "{reason}\n\nUsage: `{usage}`"
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
NEED_REFERRAL_ID = "Tell me which referral: `referral <id>`."
NEED_DOMAIN = "Tell me which customer domain: `lead contoso.com`."
NO_ARGUMENTS = "`{command}` takes no arguments."
