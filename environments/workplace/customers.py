"""The CRM: customers, who looks after each, what they are interested in and where they
stand; search them, add, update and delete."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from environments.workplace import records
from environments.workplace.calls import counted
from environments.workplace.company import PRODUCTS, STATUSES, Company

__all__ = ["CustomerTools"]

CustomerId = Annotated[str, Field(description="The customer's 8-digit id.")]
DEFAULT_PAGE_SIZE = 10
CHECKS: dict[str, records.Check] = {
    "customer_name": records.text,
    "assigned_to_email": records.colleague,
    "customer_email": records.address,
    "customer_phone": lambda company, field, value: value.strip(),
    "last_contact_date": records.date,
    "product_interest": records.choice(*PRODUCTS),
    "status": records.choice(*STATUSES),
    "notes": lambda company, field, value: value.strip(),
    "follow_up_by": records.date,
}


class CustomerTools:
    @counted
    async def customer_relationship_manager_search_customers(
        self,
        company: Company,
        customer_name: str = "",
        customer_email: str = "",
        product_interest: str = "",
        status: str = "",
        assigned_to_email: str = "",
        last_contact_date_min: str = "",
        last_contact_date_max: str = "",
        follow_up_by_min: str = "",
        follow_up_by_max: str = "",
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Find customers matching every filter given, by id; the name matches any part, the
        other text filters match exactly, in any case.

        Args:
            customer_name: Part of the customer's name.
            customer_email: The customer's address.
            product_interest: Software, Hardware, Services, Consulting or Training.
            status: Qualified, Won, Lost, Lead or Proposal.
            assigned_to_email: The address of the colleague who looks after the customer.
            last_contact_date_min: Last contacted on or after this day, YYYY-MM-DD.
            last_contact_date_max: Last contacted on or before this day, YYYY-MM-DD.
            follow_up_by_min: Follow-up due on or after this day, YYYY-MM-DD.
            follow_up_by_max: Follow-up due on or before this day, YYYY-MM-DD.
            page: Which page of results, from 1.
            page_size: Customers per page.
        """
        exact = {
            "customer_email": customer_email, "product_interest": product_interest,
            "status": status, "assigned_to_email": assigned_to_email,
        }  # fmt: skip
        ranges = (
            ("last_contact_date", ">=", "last_contact_date_min", last_contact_date_min),
            ("last_contact_date", "<=", "last_contact_date_max", last_contact_date_max),
            ("follow_up_by", ">=", "follow_up_by_min", follow_up_by_min),
            ("follow_up_by", "<=", "follow_up_by_max", follow_up_by_max),
        )
        sql = "SELECT * FROM customers WHERE lower(customer_name) LIKE ?"
        params = [f"%{customer_name.strip().lower()}%"]
        for field, value in exact.items():
            if value.strip():
                sql += f" AND lower({field}) = ?"
                params.append(value.strip().lower())
        for field, compare, argument, value in ranges:
            if value.strip():
                sql += f" AND {field} != '' AND {field} {compare} ?"
                params.append(records.date(company, argument, value))
        found = company.rows(sql + " ORDER BY customer_id", tuple(params))
        return records.page_of(found, page, page_size)

    @counted
    async def customer_relationship_manager_add_customer(
        self,
        company: Company,
        customer_name: str,
        assigned_to_email: str,
        status: str,
        customer_email: str = "",
        customer_phone: str = "",
        last_contact_date: str = "",
        product_interest: str = "",
        notes: str = "",
        follow_up_by: str = "",
    ) -> dict[str, Any]:
        """Add a customer.

        Args:
            customer_name: The customer's name.
            assigned_to_email: The address of the colleague who will look after them.
            status: Qualified, Won, Lost, Lead or Proposal.
            customer_email: The customer's address.
            customer_phone: The customer's phone number.
            last_contact_date: When they were last contacted, YYYY-MM-DD.
            product_interest: Software, Hardware, Services, Consulting or Training.
            notes: Anything worth remembering.
            follow_up_by: When to follow up, YYYY-MM-DD.
        """
        given = {
            "customer_email": customer_email, "customer_phone": customer_phone,
            "last_contact_date": last_contact_date, "product_interest": product_interest,
            "notes": notes, "follow_up_by": follow_up_by,
        }  # fmt: skip
        required = {
            "customer_name": customer_name, "assigned_to_email": assigned_to_email,
            "status": status,
        }  # fmt: skip
        optional = {field: value for field, value in given.items() if value.strip()}
        values = records.checked(company, CHECKS, required | optional)
        return records.insert(company, "customers", values)

    @counted
    async def customer_relationship_manager_update_customer(
        self, company: Company, customer_id: CustomerId, field: str, new_value: records.NewValue
    ) -> dict[str, Any]:
        """Change one field of a customer (e.g. status, or assigned_to_email to reassign).

        Args:
            field: One of customer_name, assigned_to_email, customer_email, customer_phone,
                last_contact_date, product_interest, status, notes, follow_up_by.
        """
        return records.update(company, "customers", customer_id, field, new_value, CHECKS)

    @counted
    async def customer_relationship_manager_delete_customer(
        self, company: Company, customer_id: CustomerId
    ) -> str:
        """Delete a customer."""
        return records.delete(company, "customers", customer_id)
