"""E-mail: single messages (.eml) and mailboxes (.mbox), by the standard library's email package.

A message reads as its headers (From, To, Cc, Date, Subject) and its text body (the plain part,
else the HTML part as text); attachments are listed by name. In a mailbox each message is a
section. The mailbox is split from its bytes: `mailbox.mbox` would open the file for writing.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from typing import Callable

from ..base import Extracted, ExtractionFailed, Member, SkipFile, join_sections, short

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_MBOX_SEPARATOR = re.compile(rb"^From [^\r\n]*\r?\n", re.MULTILINE)
HtmlToText = Callable[[bytes], tuple[str, "str | None"]]


def extract_eml(data: bytes, max_chars: int, html_to_text: HtmlToText) -> tuple[str, str | None]:
    message = _parse(data)
    if not any(message.get(h) for h in _HEADERS):
        raise ExtractionFailed("not an e-mail message (no From, To, Date or Subject header)")
    text, subject = message_text(message, html_to_text)
    return text[: max_chars + 1], subject


def attachment_members(data: bytes, *, depth: int, max_bytes: int, max_chars: int,
                       read_member: Callable[..., Extracted]) -> list[Member]:
    """A message's attachments, each read by its kind (``read_member``, as an archive's members are):
    they become documents of their own, ``note.eml › report.pdf``."""
    message = _parse(data)
    members: list[Member] = []
    parts = message.iter_attachments() if message.is_multipart() else ()
    for n, part in enumerate(parts):
        name = (part.get_filename() or f"attachment {n + 1}").replace("/", "_").replace("\x00", "")
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception as err:  # a broken transfer encoding
            members.append(Member(name, 0, "failed", short(f"attachment could not be decoded: {err}"), None))
            continue
        if not isinstance(payload, bytes):
            continue  # an attached message (message/rfc822): its text is not a file of its own
        if len(payload) > max_bytes:
            members.append(Member(name, len(payload), "skipped", f"too large ({len(payload)} bytes > limit)", None))
            continue
        try:
            extracted = read_member(payload, name, depth=depth + 1, max_bytes=max_bytes, max_chars=max_chars)
        except SkipFile as err:
            members.append(Member(name, len(payload), "skipped", err.reason, None))
            continue
        except ExtractionFailed as err:
            members.append(Member(name, len(payload), "failed", err.reason, None))
            continue
        inner, extracted.members = extracted.members, []
        members.append(Member(name, len(payload), "ok", None, extracted))
        members += [Member(f"{name} › {m.name}", m.size, m.status, m.reason, m.extracted) for m in inner]
    return members


def extract_mbox(data: bytes, max_chars: int, html_to_text: HtmlToText) -> tuple[str, str | None]:
    starts = [m.start() for m in _MBOX_SEPARATOR.finditer(data)]
    if not starts or data[: starts[0]].strip():
        raise ExtractionFailed("not a valid mailbox (it must start with a 'From ' line)")
    texts: list[str] = []
    total = 0
    for begin, end in zip(starts, [*starts[1:], len(data)]):
        raw = data[begin:end]
        raw = raw[raw.index(b"\n") + 1 :]
        raw = re.sub(rb"(?m)^>(>*From )", rb"\1", raw)  # mboxrd quoting
        text, _subject = message_text(_parse(raw), html_to_text)
        texts.append(text)
        total += len(text) + 1
        if total > max_chars:
            break
    return join_sections(texts), None


def _parse(data: bytes) -> EmailMessage:
    try:
        message = email.message_from_bytes(data, policy=policy.default)
    except Exception as err:  # the parser is lenient; this is a bug-level failure
        raise ExtractionFailed(short(f"not a valid e-mail message: {err}")) from None
    assert isinstance(message, EmailMessage)
    return message


def message_text(message: EmailMessage, html_to_text: HtmlToText) -> tuple[str, str | None]:
    """Header lines, a blank line, the body; attachment names last. Also the subject."""
    lines: list[str] = []
    for name in _HEADERS:
        value = _header(message, name)
        if value:
            lines.append(f"{name}: {value}")
    body = _body(message, html_to_text)
    if body:
        lines += ["", body.strip()]
    attachments = []
    for part in message.iter_attachments() if message.is_multipart() else ():
        filename = part.get_filename()
        if filename:
            attachments.append(filename)
    if attachments:
        lines += ["", "Attachments: " + ", ".join(attachments)]
    subject = _header(message, "Subject") or None
    return "\n".join(lines), subject


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the policy cannot parse
        value = None
    return " ".join(str(value).split()) if value is not None else ""


def _body(message: EmailMessage, html_to_text: HtmlToText) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if part.get_content_subtype() == "html":
        raw = content.encode("utf-8") if isinstance(content, str) else content
        return html_to_text(raw)[0]
    return content if isinstance(content, str) else content.decode("utf-8", errors="replace")
