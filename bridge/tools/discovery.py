"""Supplier discovery: `search_suppliers` looks a query up in a business directory larger than the
shop's suppliers (in simulation sim_backend/directory.py), so finding a good supplier takes a search
and knowing one is worth something."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.errors import ToolError
from bridge.tools.spec import Kind, tool

Search = Callable[[str], tuple[list[dict[str, Any]], int]]


class SupplierSearch:
    def __init__(self, *, search: Search) -> None:
        self._search = search

    @tool(Kind.READ, minutes=10)
    def search_suppliers(self, query: str) -> dict[str, Any]:
        """Search the business directory for suppliers: words of what you need ("soda wholesale",
        "chips", a product or a company name). Returns up to 10 best matches and how many matched.
        Not every business listed sells to vending machines (see sells_to_vending); ask for a quote
        (request_quote) or write to the contact to find out more.

        Args:
            query: words to look for.
        """
        if not query.strip():
            raise ToolError("say what to search for, e.g. 'soda wholesale'")
        if len(query) > 200:
            raise ToolError("a search is at most 200 characters")
        matches, total = self._search(query)
        return {"query": query, "matches": matches, "total_matches": total, "shown": len(matches)}
