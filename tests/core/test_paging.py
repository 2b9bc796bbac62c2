"""Pages of list results and results that fit the model's budget: following the instructions a
result gives reaches every item exactly once; nothing is cut in the middle of an item."""

from __future__ import annotations

import json

import pytest

from bridge.errors import ToolError
from bridge.tools.paging import MAX_PER_PAGE, every, fit_result, page_of, read_all_inbox


def _items(n: int, width: int = 40) -> list[dict[str, object]]:
    return [{"id": i, "text": "x" * (width + i % 7)} for i in range(n)]


def test_a_page_says_the_total_and_the_next_page() -> None:
    items = _items(45)
    first = page_of(items, page=1, per_page=20)
    assert (first["total"], first["pages"], first["next_page"], len(first["items"])) == (45, 3, 2, 20)
    last = page_of(items, page=3, per_page=20)
    assert last["next_page"] is None and [i["id"] for i in last["items"]] == list(range(40, 45))
    with pytest.raises(ToolError):
        page_of(items, page=0, per_page=20)
    with pytest.raises(ToolError):
        page_of(items, page=1, per_page=MAX_PER_PAGE + 1)


@pytest.mark.parametrize(("limit", "per_page"), [(900, 25), (1_500, 25), (700, 7), (5_000, 100)])
def test_following_the_fitted_pages_reaches_every_item_once(limit: int, per_page: int) -> None:
    items = _items(83)
    seen: list[int] = []
    page, size, calls = 1, per_page, 0
    while page is not None:
        calls += 1
        assert calls < 200
        shown = fit_result(page_of(items, page=page, per_page=size), limit)
        assert len(shown) <= limit
        value = json.loads(shown)  # whole JSON: never cut mid-item
        seen += [i["id"] for i in value["items"]]
        page, size = value["next_page"], value["per_page"]
    assert seen == list(range(83))


def test_one_item_too_long_is_shown_with_its_lists_shortened() -> None:
    big = {"supplier": "quickmart", "skus": [f"sku-{i:03d}" for i in range(400)]}
    shown = json.loads(fit_result(page_of([{"supplier": "a", "skus": []}, big], page=2, per_page=1), 1_200))
    (item,) = shown["items"]
    assert item["supplier"] == "quickmart" and item["skus_total"] == 400 and 0 < len(item["skus"]) < 400
    assert shown["next_page"] is None


def test_a_long_result_that_is_not_a_page_is_summarised_not_cut() -> None:
    shown = json.loads(fit_result({"blob": "y" * 10_000}, 500))
    assert shown["result_too_long"] > 10_000 and shown["keys"] == ["blob"]
    listed = json.loads(fit_result(_items(100), 800))
    assert listed["total"] == 100 and 0 < len(listed["items"]) < 100


def test_a_policy_that_reads_everything_gets_every_page() -> None:
    items = _items(2_500, width=1)

    def call(name: str, **args: int) -> object:
        return page_of(items, page=args["page"], per_page=args["per_page"])

    got = every(call, "list_things")
    assert got is not None and [i["id"] for i in got] == list(range(2_500))
    assert every(lambda name, **args: None, "list_things") is None
    inbox = list(range(2_300))

    def read(name: str, **args: int) -> object:
        taken = [inbox.pop(0) for _ in range(min(args["limit"], len(inbox)))]
        return {"items": taken, "total": len(taken) + len(inbox), "remaining": len(inbox)}

    assert read_all_inbox(read) == list(range(2_300))
