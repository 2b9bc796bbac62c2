"""Pages of a list tool's result: every list tool says how many items there are in all and how to get
the next page, so nothing is ever cut silently.

    {"items": [...], "total": 85, "page": 1, "pages": 4, "per_page": 25, "next_page": 2}

`fit_result` makes a result fit a character budget (what the model is shown) without cutting an item
in half: a page is shown with fewer items and says which page and page size show the rest; anything
else too long is summarised with an instruction to ask for less.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bridge.errors import ToolError

MAX_PER_PAGE = 1_000  # a heuristic policy asks for everything in one page of this size


def check_page(page: int, per_page: int) -> None:
    if page < 1:
        raise ToolError("page must be 1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ToolError(f"per_page must be between 1 and {MAX_PER_PAGE}")


def page_of(items: Sequence[Any], *, page: int, per_page: int, **extra: Any) -> dict[str, Any]:
    """One page of `items` (already filtered and ordered) with the count of all and the next page."""
    check_page(page, per_page)
    total = len(items)
    start = (page - 1) * per_page
    pages = max(1, -(-total // per_page))
    return {"items": list(items[start:start + per_page]), "total": total, "page": page, "pages": pages,
            "per_page": per_page, "next_page": page + 1 if start + per_page < total else None, **extra}


def is_page(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("items"), list) and "total" in value


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def fit_result(value: Any, limit: int) -> str:
    """`value` as the model sees it (JSON), at most `limit` characters, never cut mid-item."""
    text = _dump(value)
    if len(text) <= limit:
        return text
    if is_page(value) and "page" in value and "per_page" in value:
        fitted = _fit_page(value, limit)
        if fitted is not None:
            return fitted
    if isinstance(value, list):
        return _fit_list(value, limit)
    keys = list(value)[:40] if isinstance(value, dict) else []
    return _dump({"result_too_long": len(text), "limit": limit, "keys": keys,
                  "note": "This result is longer than you can be shown at once. Ask for less: a filter, a "
                          "shorter period or a smaller per_page."})


def _fit_page(value: dict[str, Any], limit: int) -> str | None:
    """The page shown with its first k items, k such that the rest starts a page of size k."""
    items: list[Any] = value["items"]
    start = (int(value["page"]) - 1) * int(value["per_page"])
    total = int(value["total"])
    rest = {k: v for k, v in value.items() if k not in ("items", "total", "page", "pages", "per_page", "next_page")}
    for k in range(len(items) - 1, 0, -1):
        if start % k:
            continue
        page = start // k + 1
        shown = {"items": items[:k], "total": total, "page": page, "pages": max(1, -(-total // k)), "per_page": k,
                 "next_page": page + 1 if start + k < total else None, **rest,
                 "note": f"Only {k} items fit in what you can be shown at once: this is page {page} at "
                         f"per_page={k}. For the rest call again with per_page={k} and page={page + 1}."}
        text = _dump(shown)
        if len(text) <= limit:
            return text
    if items:  # one item alone is too long: shown with its long lists shortened, each saying how long it is
        page = start + 1
        shown = {"items": [], "total": total, "page": page, "pages": total, "per_page": 1,
                 "next_page": page + 1 if page < total else None, **rest}
        item = _shrink(items[0], limit - len(_dump(shown)) - 300)
        if item is not None:
            shown["items"] = [item]
            shown["note"] = (f"One item is longer than you can be shown at once: page {page} at per_page=1, its "
                             f"long lists shortened (see *_total). Use a filter to see a list whole; for the next "
                             f"item call again with per_page=1 and page={page + 1}.")
            return _dump(shown)
    return None


def _shrink(item: Any, room: int) -> Any:
    """`item` with its list fields cut to whole entries so that it fits `room` characters, each cut list
    next to `<field>_total` (its full length); None if even that does not fit."""
    if not isinstance(item, dict) or room <= 0:
        return None
    out = dict(item)
    for key in sorted((k for k, v in item.items() if isinstance(v, list)), key=lambda k: -len(_dump(item[k]))):
        if len(_dump(out)) <= room:
            break
        full: list[Any] = item[key]
        out[f"{key}_total"] = len(full)
        keep = len(full)
        while keep > 0 and len(_dump({**out, key: full[:keep]})) > room:
            keep = keep * 3 // 4 if keep > 4 else keep - 1
        out[key] = full[:keep]
    return out if len(_dump(out)) <= room else None


def _fit_list(value: list[Any], limit: int) -> str:
    for k in range(len(value) - 1, 0, -1):
        shown = {"items": value[:k], "total": len(value),
                 "note": f"Only the first {k} of {len(value)} items fit in what you can be shown at once; "
                         "ask for fewer (a filter or a smaller limit) to see the rest."}
        text = _dump(shown)
        if len(text) <= limit:
            return text
    return _dump({"result_too_long": len(_dump(value)), "total": len(value), "limit": limit,
                  "note": "Each item is too long to be shown; ask for fewer or a filter."})


def every(call: Any, name: str, **args: Any) -> list[Any] | None:
    """All the items of a paged list tool, for a policy that reads everything (pages of the largest
    size: one call unless the list is longer than that). `call(name, **args)` returns a result's value
    or None when the call failed; None if the first page failed."""
    items: list[Any] = []
    page = 1
    while True:
        value = call(name, **args, page=page, per_page=MAX_PER_PAGE)
        if not is_page(value):
            return None if page == 1 else items
        items += value["items"]
        if not value.get("next_page"):
            return items
        page = int(value["next_page"])


def read_all_inbox(call: Any) -> list[Any]:
    """Every unread inbox item (read_inbox in reads of the largest size until none remain)."""
    items: list[Any] = []
    while True:
        value = call("read_inbox", limit=MAX_PER_PAGE)
        if not is_page(value):
            return items
        items += value["items"]
        if not value.get("remaining"):
            return items
