"""Website analytics, read-only: visits by day, visitor, source and engagement."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from environments.workplace import records
from environments.workplace.calls import counted
from environments.workplace.company import TRAFFIC_SOURCES, Company, format_id
from resources_server import ToolError

__all__ = ["AnalyticsTools"]

VALUES = (
    "total_visits", "session_duration_seconds", "user_engaged", "visits_direct",
    "visits_referral", "visits_search_engine", "visits_social_media",
)  # fmt: skip
PLOTS = ("bar", "line", "scatter", "histogram")
FirstDay = Annotated[
    str, Field(description="First day, YYYY-MM-DD (inclusive); empty for no limit.")
]
LastDay = Annotated[str, Field(description="Last day, YYYY-MM-DD (inclusive); empty for no limit.")]


def _visits(company: Company, time_min: str, time_max: str) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM analytics WHERE 1", []
    if time_min.strip():
        sql += " AND date_of_visit >= ?"
        params.append(records.date(company, "time_min", time_min))
    if time_max.strip():
        sql += " AND date_of_visit <= ?"
        params.append(records.date(company, "time_max", time_max))
    return company.rows(sql + " ORDER BY date_of_visit", tuple(params))


class AnalyticsTools:
    @counted
    async def analytics_get_visitor_information_by_id(
        self, company: Company, visitor_id: str
    ) -> list[dict[str, Any]]:
        """Every visit of one visitor.

        Args:
            visitor_id: The visitor's 8-digit id.
        """
        wanted = format_id(int(visitor_id)) if visitor_id.strip().isdigit() else visitor_id
        found = company.rows("SELECT * FROM analytics WHERE visitor_id = ?", (wanted,))
        if not found:
            raise ToolError(f"no visits by visitor_id {visitor_id!r}")
        return found

    @counted
    async def analytics_total_visits_count(
        self, company: Company, time_min: FirstDay = "", time_max: LastDay = ""
    ) -> dict[str, int]:
        """How many visits there were, by day."""
        days: dict[str, int] = {}
        for visit in _visits(company, time_min, time_max):
            days[visit["date_of_visit"]] = days.get(visit["date_of_visit"], 0) + 1
        return days

    @counted
    async def analytics_engaged_users_count(
        self, company: Company, time_min: FirstDay = "", time_max: LastDay = ""
    ) -> dict[str, int]:
        """How many visits were by engaged users."""
        visits = _visits(company, time_min, time_max)
        return {"engaged_users": sum(v["user_engaged"] == "True" for v in visits)}

    @counted
    async def analytics_traffic_source_count(
        self,
        company: Company,
        time_min: FirstDay = "",
        time_max: LastDay = "",
        traffic_source: str = "",
    ) -> dict[str, int]:
        """How many visits came from one traffic source.

        Args:
            traffic_source: direct, referral, search engine or social media.
        """
        source = records.choice(*TRAFFIC_SOURCES)(company, "traffic_source", traffic_source)
        visits = _visits(company, time_min, time_max)
        return {"visits": sum(v["traffic_source"] == source for v in visits)}

    @counted
    async def analytics_get_average_session_duration(
        self, company: Company, time_min: FirstDay = "", time_max: LastDay = ""
    ) -> dict[str, float]:
        """The mean session length, in seconds."""
        seconds = [int(v["session_duration_seconds"]) for v in _visits(company, time_min, time_max)]
        return {"average_seconds": round(sum(seconds) / len(seconds), 1) if seconds else 0.0}

    @counted
    async def analytics_create_plot(
        self, company: Company, time_min: str, time_max: str, value_to_plot: str, plot_type: str
    ) -> str:
        """Draw a plot of one measure over a range of days; returns the plot's file name.

        Args:
            time_min: First day, YYYY-MM-DD.
            time_max: Last day, YYYY-MM-DD.
            value_to_plot: total_visits, session_duration_seconds, user_engaged, visits_direct,
                visits_referral, visits_search_engine or visits_social_media.
            plot_type: bar, line, scatter or histogram.
        """
        first = records.date(company, "time_min", time_min)
        last = records.date(company, "time_max", time_max)
        value = records.choice(*VALUES)(company, "value_to_plot", value_to_plot)
        kind = records.choice(*PLOTS)(company, "plot_type", plot_type)
        return f"plots/{first}_{last}_{value}_{kind}.png"
