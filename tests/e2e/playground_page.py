"""The Agents Playground page, as a user sees it: open a chat, type, find the bot's answers and press buttons.

Selectors follow the playground 0.2.28 DOM (see docs/demo.md): bot messages in chats are `.fai-OutputCard`,
channel threads (post plus replies) are `[role="group"].fui-Card`. Never match text on the whole page: the log
panel and the sidebar repeat it.
"""

from __future__ import annotations

from typing import Any

from sandbox.playground import BOT_NAME, SALES_CHANNEL_TREE_NAME

COMPOSE = 'div[role="textbox"][contenteditable="true"][data-lexical-editor="true"]'
OUTPUT_CARD = ".fai-OutputCard"
THREAD = '[role="group"].fui-Card'
CONVERSATIONS = '[role="region"][aria-label="Chat and Teams Channel"]'


def _installation(response: Any) -> bool:
    return response.request.method == "POST" and response.url.endswith("/installation")


def button(title: str) -> str:
    return f'.ac-actionSet button[aria-label="{title}"]'


class ChatPage:
    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url

    def open(self) -> None:
        """Load the page; it installs the bot in the personal chat (the playground POSTs `.../installation`).

        The bot's welcome is not waited for: the playground sends installationUpdate and conversationUpdate at
        the same moment, and the bot sometimes fails one of the two turns (both insert the conversation; see
        docs/demo.md), so the welcome is not a reliable sign of readiness.
        """
        with self.page.expect_response(_installation, timeout=30_000) as installed:
            self.page.goto(self.url, wait_until="domcontentloaded")
        assert installed.value.ok, installed.value.text()
        self.page.locator(COMPOSE).first.wait_for()

    # -- personal chat ------------------------------------------------------------------------------

    def say(self, text: str, expect: str, timeout: float = 20_000) -> Any:
        """Type `text` in the open chat; return the bot's first new message containing `expect`."""
        messages = self.page.locator(OUTPUT_CARD)
        before = messages.count()
        self.page.locator(COMPOSE).first.click()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        return self._new_message(messages, before, expect, timeout)

    def say_nothing(self, expect: str, timeout: float = 20_000) -> Any:
        """Wait for a bot message containing `expect` that the bot sends by itself (after the last one shown)."""
        messages = self.page.locator(OUTPUT_CARD)
        return self._new_message(messages, max(0, messages.count() - 1), expect, timeout)

    def _new_message(self, messages: Any, before: int, expect: str, timeout: float) -> Any:
        deadline = self.page.evaluate("Date.now()") + timeout
        while self.page.evaluate("Date.now()") < deadline:
            texts = messages.all_inner_texts()
            for index in range(before, len(texts)):
                if expect.lower() in texts[index].lower():
                    return messages.nth(index)
            self.page.wait_for_timeout(200)
        shown = "\n---\n".join(messages.all_inner_texts()[before:])
        raise AssertionError(f"no new bot message containing {expect!r}; new messages:\n{shown}")

    # -- the team channel ---------------------------------------------------------------------------

    def open_conversation(self, name: str) -> None:
        self.page.locator(CONVERSATIONS).get_by_role("treeitem", name=name).click()

    def open_sales_channel(self) -> None:
        """Open the team's General channel (the sales channel); the first visit installs the bot in the team."""
        with self.page.expect_response(_installation, timeout=30_000) as installed:
            self.open_conversation(SALES_CHANNEL_TREE_NAME)
        assert installed.value.ok, installed.value.text()
        self.page.get_by_role("button", name="Post", exact=True).wait_for()

    def thread(self, text: str) -> Any:
        """The newest channel thread (post and replies) that shows `text` (the channel lists newest first)."""
        return self.page.locator(THREAD).filter(has_text=text).first

    def post(self, text: str, expect: str, timeout: float = 20_000) -> Any:
        """Start a new channel post that @mentions the bot (picked in the @ popup); return its thread once
        the bot's reply in it shows `expect`."""
        threads = self.page.locator(THREAD)
        self.page.locator(COMPOSE).first.click()
        self.page.keyboard.type("@")
        self.page.locator('[role="menuitem"]').filter(has_text=BOT_NAME).first.click()
        self.page.keyboard.type(f" {text}")
        self.page.get_by_role("button", name="Post", exact=True).click()
        deadline = self.page.evaluate("Date.now()") + timeout
        while self.page.evaluate("Date.now()") < deadline:
            texts = threads.all_inner_texts()  # newest thread first
            for index, shown in enumerate(texts):
                if f"{BOT_NAME} {text}" in shown and expect.lower() in shown.lower():
                    return threads.nth(index)
            self.page.wait_for_timeout(200)
        shown = "\n---\n".join(threads.all_inner_texts()[:3])
        raise AssertionError(f"no reply containing {expect!r} to the post {text!r}; new threads:\n{shown}")

    # -- card buttons -------------------------------------------------------------------------------

    def press(self, scope: Any, title: str) -> Any:
        """Press a card button (Action.Execute) and return the playground's `/_conversation/v1/invoke` response.

        The page shows nothing when the bot fails an invoke, hence the status check by the callers.
        """
        with self.page.expect_response(lambda r: r.url.endswith("/_conversation/v1/invoke")) as answer:
            scope.locator(button(title)).first.click()
        return answer.value
