"""The user's mailbox: search and read emails, send, reply, forward and delete."""

from __future__ import annotations

from typing import Any

from environments.workplace import records
from environments.workplace.calls import counted
from environments.workplace.company import NOW, Company

__all__ = ["MailTools"]

DEFAULT_PAGE_SIZE = 10


def _sent(company: Company, recipient: str, subject: str, body: str) -> dict[str, Any]:
    values = {
        "inbox/outbox": "outbox",
        "sender/recipient": records.address(company, "recipient", recipient),
        "subject": records.text(company, "subject", subject),
        "sent_datetime": NOW,
        "body": records.text(company, "body", body),
    }
    return records.insert(company, "emails", values)


class MailTools:
    @counted
    async def email_search_emails(
        self,
        company: Company,
        query: str = "",
        date_min: str | None = None,
        date_max: str | None = None,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Find emails, newest first, whose subject, body or correspondent contain every word
        of the query.

        Args:
            query: Words to look for (any case); empty matches every email.
            date_min: Earliest day sent, YYYY-MM-DD (inclusive).
            date_max: Latest day sent, YYYY-MM-DD (inclusive).
            page: Which page of results, from 1.
            page_size: Emails per page.
        """
        sql, params = "SELECT * FROM emails WHERE 1", []
        for word in query.lower().split():
            sql += " AND lower(subject || ' ' || body || ' ' || \"sender/recipient\") LIKE ?"
            params.append(f"%{word}%")
        if date_min:
            sql += " AND substr(sent_datetime, 1, 10) >= ?"
            params.append(records.date(company, "date_min", date_min))
        if date_max:
            sql += " AND substr(sent_datetime, 1, 10) <= ?"
            params.append(records.date(company, "date_max", date_max))
        found = company.rows(sql + " ORDER BY sent_datetime DESC", tuple(params))
        return records.page_of(found, page, page_size)

    @counted
    async def email_get_email_information_by_id(
        self, company: Company, email_id: str, field: str
    ) -> dict[str, Any]:
        """Read one field of an email.

        Args:
            email_id: The email's 8-digit id.
            field: One of email_id, inbox/outbox, sender/recipient, subject, sent_datetime, body.
        """
        return records.field_of(company, "emails", email_id, field)

    @counted
    async def email_send_email(
        self, company: Company, recipient: str, subject: str, body: str
    ) -> dict[str, Any]:
        """Send a new email.

        Args:
            recipient: The address to send it to.
            subject: The subject line.
            body: The message.
        """
        return _sent(company, recipient, subject, body)

    @counted
    async def email_reply_email(self, company: Company, email_id: str, body: str) -> dict[str, Any]:
        """Reply to an email: the reply goes to its correspondent, with the subject "Re: ...".

        Args:
            email_id: The 8-digit id of the email to answer.
            body: The reply's text.
        """
        email = records.row_of(company, "emails", email_id)
        return _sent(company, email["sender/recipient"], f"Re: {email['subject']}", body)

    @counted
    async def email_forward_email(
        self, company: Company, email_id: str, recipient: str
    ) -> dict[str, Any]:
        """Forward an email, subject "Fwd: ..." and the same body, to another address.

        Args:
            email_id: The 8-digit id of the email to forward.
            recipient: The address to forward it to.
        """
        email = records.row_of(company, "emails", email_id)
        return _sent(company, recipient, f"Fwd: {email['subject']}", email["body"])

    @counted
    async def email_delete_email(self, company: Company, email_id: str) -> str:
        """Delete an email.

        Args:
            email_id: The 8-digit id of the email.
        """
        return records.delete(company, "emails", email_id)
