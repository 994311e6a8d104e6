"""Spending limits shared by an execution and all its children (one row per tree)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Runner, sql


@dataclass(slots=True)
class Budget:
    """Spending limits of an execution tree and what it has used so far."""

    max_cost_usd: float | None
    max_tokens: int | None
    used_cost_usd: float
    used_tokens: int

    def exceeded(self) -> str | None:
        """Why no further model call may be made, if that is the case."""
        if self.max_tokens is not None and self.used_tokens >= self.max_tokens:
            return f"token budget exhausted ({self.used_tokens} of {self.max_tokens} tokens used)"
        if self.max_cost_usd is not None and self.used_cost_usd >= self.max_cost_usd:
            return f"cost budget exhausted (${self.used_cost_usd:.6f} of ${self.max_cost_usd:.6f} used)"
        return None


class BudgetsTx(Protocol):
    async def put_budget(self, root_id: str, max_cost_usd: float | None, max_tokens: int | None) -> None: ...

    async def add_budget_usage(self, root_id: str, cost_usd: float, tokens: int) -> None:
        """Count a model call against its tree's budget (no-op when there is none)."""
        ...


class BudgetsReads(Protocol):
    async def get_budget(self, root_id: str) -> Budget | None: ...


PUT = sql(
    "INSERT INTO budgets (root_id, max_cost_usd, max_tokens) VALUES (:root_id, :max_cost_usd, :max_tokens)"
)
ADD_USAGE = sql(
    "UPDATE budgets SET used_cost_usd = used_cost_usd + :cost_usd, used_tokens = used_tokens + :tokens "
    "WHERE root_id = :root_id"
)
GET = sql("SELECT max_cost_usd, max_tokens, used_cost_usd, used_tokens FROM budgets WHERE root_id = :root_id")


class BudgetsTxSql(Runner):
    __slots__ = ()

    async def put_budget(self, root_id: str, max_cost_usd: float | None, max_tokens: int | None) -> None:
        await self._run(PUT, root_id, max_cost_usd, max_tokens)

    async def add_budget_usage(self, root_id: str, cost_usd: float, tokens: int) -> None:
        await self._run(ADD_USAGE, cost_usd, tokens, root_id)


class BudgetsReadsSql(Runner):
    __slots__ = ()

    async def get_budget(self, root_id: str) -> Budget | None:
        row = await self._row(GET, root_id)
        return Budget(*row) if row is not None else None
