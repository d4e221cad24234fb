"""The company directory: who works here, and their addresses."""

from __future__ import annotations

from environments.workplace.calls import counted
from environments.workplace.company import Company

__all__ = ["DirectoryTools"]


class DirectoryTools:
    @counted
    async def company_directory_find_email_address(
        self, company: Company, name: str = ""
    ) -> list[str]:
        """Look up colleagues' email addresses by name; any part of a name matches, in any case.

        Args:
            name: A first name, a last name, or part of one; empty lists everyone.
        """
        pattern = f"%{name.strip().lower()}%"
        found = company.rows("SELECT email FROM directory WHERE lower(name) LIKE ?", (pattern,))
        return [row["email"] for row in found]
