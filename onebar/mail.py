"""Sending mail: a :class:`Mailer` interface, SMTP, and "mail is off".

:func:`mailer_for` picks one from the settings: :class:`SMTPMailer` when
``smtp_url`` is set (stdlib :mod:`smtplib`), else :class:`MailOff`, which
sends nothing and logs one warning naming the recipient and the subject. Only
in ``dev_mode`` (refused with an https public URL) does that line also carry
the message's links, so a developer can click them; in production a link is a
credential and never reaches a log.

Example::

    >>> from onebar.mail import Message, MailOff
    >>> MailOff().send(Message(to="ada@example.com", subject="Hi", body="…"))

``smtp_url`` forms: ``smtp://host:25`` (plain, for a local relay),
``smtp://user:password@host:587?starttls=true`` and ``smtps://host:465``
(TLS from the first byte). Both TLS forms verify the server's certificate.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from .exc import OnebarError
from .settings import Settings

log = logging.getLogger("onebar.mail")

_LINK = re.compile(r"https?://\S+")


class MailError(OnebarError):
    """A message could not be handed to the mail server."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    #: False for :class:`MailOff`: callers may tell the operator.
    enabled: bool

    def send(self, message: Message) -> None: ...


class MailOff:
    """No mail server configured: say where the message would have gone."""

    enabled = False

    def __init__(self, *, dev_mode: bool = False) -> None:
        self.dev_mode = dev_mode

    def send(self, message: Message) -> None:
        if self.dev_mode:
            links = " ".join(_LINK.findall(message.body)) or "no link"
            log.warning("mail is off (dev mode): %r to %s; links: %s", message.subject, message.to, links)
        else:
            log.warning("mail is off (set ONEBAR_SMTP_URL): not sending %r to %s", message.subject, message.to)


class SMTPMailer:
    """Hand messages to an SMTP server, one connection per message."""

    enabled = True
    timeout = 10.0

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailError("the SMTP URL must look like smtp://host:25 or smtps://host:465")
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.sender = sender

    def __repr__(self) -> str:  # never the password
        return f"SMTPMailer({self.host}:{self.port})"

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain="onebar")
        mail.set_content(message.body)
        context = ssl.create_default_context()
        try:
            if self.implicit_tls:
                server: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with server:
                if self.starttls:
                    server.starttls(context=context)
                if self.username:
                    server.login(self.username, self._password or "")
                server.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            # The reason and the server, never the body (it holds the link).
            raise MailError(f"cannot send mail through {self.host}:{self.port}: {exc}") from None


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SMTPMailer(settings.smtp_url, settings.mail_from or default_sender(settings))
    return MailOff(dev_mode=settings.dev_mode)


def default_sender(settings: Settings) -> str:
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return f"Onebar <onebar@{host or 'localhost'}>"


def send_later(mailer: Mailer, message: Message) -> threading.Thread:
    """Send in a background thread: a page answers in the same time whether
    or not a message goes out (so it does not tell whether an account exists),
    and a slow mail server never holds a request. Failures are logged."""

    def run() -> None:
        try:
            mailer.send(message)
        except Exception as exc:  # noqa: BLE001 - a thread must not die with a trace
            log.error("%s (to %s, %r)", exc, message.to, message.subject)

    thread = threading.Thread(target=run, name="onebar-mail", daemon=True)
    thread.start()
    return thread
