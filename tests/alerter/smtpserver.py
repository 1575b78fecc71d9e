"""A small SMTP server on 127.0.0.1 for tests: records messages, answers from a script.

Speaks enough of RFC 5321 for smtplib: EHLO/HELO, optional ``AUTH PLAIN``, MAIL, RCPT, DATA (with
dot-unstuffing), RSET, NOOP, QUIT. ``replies`` maps a verb (``MAIL``, ``RCPT``, ``DATA`` — the reply
after the message's final dot) to a forced reply; ``refuse`` maps recipients to a reply.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    replies: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None  # advertise AUTH PLAIN and accept only these
    received: list[Mail] = field(default_factory=list)
    auth_attempts: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> SmtpServer:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 test.local ESMTP")
        sender, recipients = "", []
        try:
            while line := (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                arg = line[len(verb) :].strip()
                if verb == "EHLO":
                    say("250-test.local")
                    if self.credentials is not None:
                        say("250-AUTH PLAIN")
                    say("250 8BITMIME")
                elif verb == "HELO":
                    say("250 test.local")
                elif verb == "AUTH":
                    mechanism, _, blob = arg.partition(" ")
                    _, user, password = base64.b64decode(blob).decode().split("\x00")
                    self.auth_attempts.append(user)
                    ok = mechanism.upper() == "PLAIN" and (user, password) == self.credentials
                    say("235 ok" if ok else "535 5.7.8 authentication failed")
                elif verb == "MAIL":
                    sender, recipients = arg.split(":", 1)[1].strip(" <>"), []
                    say(self.replies.get("MAIL", "250 ok"))
                elif verb == "RCPT":
                    rcpt = arg.split(":", 1)[1].strip(" <>")
                    answer = self.refuse.get(rcpt, self.replies.get("RCPT", "250 ok"))
                    if answer.startswith("2"):
                        recipients.append(rcpt)
                    say(answer)
                elif verb == "DATA":
                    say("354 go ahead")
                    await writer.drain()
                    lines = []
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    answer = self.replies.get("DATA", "250 queued")
                    if answer.startswith("2"):
                        self.received.append(Mail(sender, recipients, b"".join(lines)))
                    say(answer)
                elif verb == "QUIT":
                    say("221 bye")
                    await writer.drain()
                    break
                else:  # RSET, NOOP
                    say("250 ok")
                await writer.drain()
        finally:
            writer.close()
