"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

    with Mailbox() as box:
        ...  # point ONEBAR_SMTP_URL at box.url
        message = box.wait_for("ada@example.com")
        box.link(message)   # the first http(s) link in the body
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .live import free_port

_LINK = re.compile(r"https?://\S+")


class _Handler:
    def __init__(self, box: "Mailbox") -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            self.box.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "Mailbox":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> EmailMessage:
        """The ``count``-th message to ``address``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(address)
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no message #{count} to {address} within {timeout}s; got {len(found)}")
            time.sleep(0.05)

    @staticmethod
    def body(message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    @classmethod
    def link(cls, message: EmailMessage) -> str:
        match = _LINK.search(cls.body(message))
        assert match, "the message has no link"
        return match.group(0)
