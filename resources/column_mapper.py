"""How the import maps columns (roster/mapping/resolve.py does the work)."""

from __future__ import annotations

from dagster import ConfigurableResource

from roster.mapping.resolve import ColumnMapper


class Mapping(ConfigurableResource):
    """engine: auto (the model when OPENAI_API_KEY is set and the team opted in, else offline),
    openai or offline; model, timeout_seconds, share_values, base_url: the model's settings, else
    their ROSTER_* / OPENAI_* variables."""

    engine: str = "auto"
    model: str | None = None
    timeout_seconds: float | None = None
    share_values: bool | None = None
    base_url: str | None = None

    def mapper(self) -> ColumnMapper:
        return ColumnMapper(
            engine=self.engine,
            model=self.model,
            timeout_seconds=self.timeout_seconds,
            share_values=self.share_values,
            base_url=self.base_url,
        )
