"""`vend chat`: an engineer in the live shop's composition on a virtual clock (vend hil's), as a customer
or as ops; scripts are piped into the real command as a subprocess, and what it prints is parsed."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.chat import MAX_TEXT, parse_span, read_lines, refusal
from tests.broker import find_tool
from tests.fakes.anthropic_api import FakeAnthropic, Reply, reply, text, tool_use
from tests.processes import processes_naming

HERE = Path(__file__).resolve().parent
VEND = [sys.executable, "-m", "bridge.cli", "chat"]
COKE = "Coca-Cola Classic 12 oz can"  # the baseline knows products by their full names
BOOKS = re.compile(r"^books> .*: bank \$([\d,]+\.\d\d), .*net worth \$([\d,]+\.\d\d)$")


@pytest.fixture(autouse=True)
def _mosquitto() -> None:
    find_tool("mosquitto")  # missing: fails with CI=true, else skips


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    return {**env, **extra}


def _chat(tmp_path: Path, script: str | bytes, *args: str, env: dict[str, str] | None = None,
          ) -> tuple[subprocess.CompletedProcess[bytes], list[str], Path]:
    done = subprocess.run([*VEND, "--out", str(tmp_path), "--name", "chat", *args], input=
                          script if isinstance(script, bytes) else script.encode(), capture_output=True,
                          timeout=300, env=env or _env())
    return done, done.stdout.decode().splitlines(), tmp_path / "chat"


def _nothing_left_running(run_dir: Path) -> None:
    """No process (the broker above all) still names the run's folder: everything started was stopped."""
    assert processes_naming(run_dir) == []


def _books(lines: list[str]) -> list[tuple[str, str]]:
    return [m.groups() for line in lines if (m := BOOKS.match(line))]


def test_a_customer_asks_for_a_product_and_gets_a_price_and_a_payment_link(tmp_path: Path) -> None:
    """The DM reaches the shop through /slack/events; the baseline asks a supplier and answers in the DM
    with the price and a Stripe payment link; paying it (on the Stripe double, its webhook to the shop)
    shows in the shop's own books."""
    done, lines, run_dir = _chat(tmp_path, f"Could you get me a {COKE}?\n/next\n/books\n/pay\n/books\n")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    shop = [line for line in lines if line.startswith("shop> ")]
    assert shop[0] == "shop> Let me ask our supplier for a price; I'll get back to you shortly."
    offer = re.fullmatch(r"shop> I can get 1 in for \$(\d+\.\d\d) each\. Pay here and I'll order it: "
                         r"(https://checkout\.stripe\.com/c/pay/\S+)", shop[1])
    assert offer is not None, shop
    price = offer[1]
    assert any(line.startswith("info> paid cs_") for line in lines)
    before, after = _books(lines)
    assert before[1] == "1,000.00" and after[1] == f"{1000 + float(price):,.2f}"  # the card payment, booked
    assert any(line.startswith("info> the chat ended at ") for line in lines)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mode"] == "chat" and summary["chat_lines"] == 5 and summary["ended_by"] == "chat ended"
    transcript = (run_dir / "chat.txt").read_text()
    assert f"you> Could you get me a {COKE}?" in transcript and offer[2] in transcript
    _nothing_left_running(run_dir)


def test_a_price_question_about_a_product_in_the_machine(tmp_path: Path) -> None:
    """Days later, with the machine stocked, a price question gets the machine's price."""
    chat = _Live([*VEND, "--out", str(tmp_path), "--name", "price"])
    names = {p.sku: p.name for p in _catalogue()}
    try:
        chat.send("/wait 4d")
        chat.until(r"^info> it is Fri ")
        chat.send("/machine")
        slot = chat.until(r"^books> \w+: (\S+) x ([1-9]\d*) at \$(\d+\.\d\d)$")
        sku, price = slot[1], slot[3]
        chat.send(f"How much is the {names[sku]}?")
        answer = chat.until(r"^shop> ")
    finally:
        rc = chat.close()
    assert rc == 0
    assert answer.string == f"shop> The {sku} is ${price} in the machine right now."


def _catalogue() -> list[Any]:
    from sim_backend.catalogue import load_catalogue

    return [e.product for e in load_catalogue(None).values()]


def test_bad_lines_are_refused_at_the_edge_and_eof_ends_cleanly(tmp_path: Path) -> None:
    long = "x" * (MAX_TEXT + 1)
    script = (f"{long}\nbell\x07here\n".encode() + b"caf\xe9 latin-1\n"
              + b"/wait 0m\n/wait soon\n/do x\n/frobnicate\n/wait 2h\n")
    done, lines, run_dir = _chat(tmp_path, script)
    assert done.returncode == 0 and done.stderr == b""
    refused = [line for line in lines if line.startswith("refused> ")]
    assert refused == [
        f"refused> the line is {MAX_TEXT + 1:,} characters; Slack takes at most {MAX_TEXT:,} in a message",
        "refused> the line holds control characters",
        "refused> the line is not UTF-8",
        "refused> wait more than nothing and at most 31 days",
        "refused> not a span of time: 'soon' (30m, 2h, 1d)",
        "refused> unknown command /do here; /help",
        "refused> unknown command /frobnicate here; /help",
    ]
    assert "info> it is Mon 2026-01-05 02:00 PST" in lines  # /wait 2h from midnight
    assert not any(line.startswith("shop> ") for line in lines)  # nothing refused reached the shop
    assert "chat" in json.loads((run_dir / "summary.json").read_text())["mode"]
    _nothing_left_running(run_dir)


def test_the_edge_checks() -> None:
    assert refusal("hello") == "" and refusal("x" * MAX_TEXT) == ""
    assert refusal("x" * (MAX_TEXT + 1)).startswith("the line is 4,001 characters")
    assert refusal("a\tb") == "the line holds control characters"
    assert parse_span("1h30m").total_seconds() == 5400 and parse_span("2d").days == 2
    for bad in ("", "0m", "32d", "2x", "h", "99999999999999d", "1h-2m"):
        with pytest.raises(ValueError):
            parse_span(bad)
    long = "y" * (MAX_TEXT * 3)
    got = list(read_lines(io.StringIO(f"one\n{long}\ntwo\r\n")))
    assert got[0] == "one" and got[2] == "two" and len(got) == 3
    assert len(got[1]) == MAX_TEXT + 2 and refusal(got[1])  # cut, and refused as too long


class _Live:
    """`vend chat` as a subprocess spoken to line by line: `send` a line, `until` a printed line matches."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=_env())
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def until(self, pattern: str, *, deadline_s: float = 120.0) -> re.Match[str]:
        deadline = time.monotonic() + deadline_s
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no line matching {pattern!r}; last: {self.seen[-15:]}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, f"vend chat ended before {pattern!r}; last: {self.seen[-15:]}"
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # end of input: the session ends
        rc = self.proc.wait(timeout=120)
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        return rc


def test_as_ops_the_engineer_answers_the_shops_requests_and_the_books_follow(tmp_path: Path) -> None:
    """The simulated ops person leaves the shop's requests to the engineer: the morning's quote requests
    wait until answered by typed commands (the supplier quotes, the quote is entered in the modal), the
    shop then asks for a purchase, and paying it by hand moves the shop's bank."""
    chat = _Live([*VEND, "--as", "ops", "--out", str(tmp_path), "--name", "ops"])
    try:
        chat.until(r"^info> vend chat: .* you are ops")
        chat.send("/day")
        chat.until(r"^info> \S+ \S+ 08:00 \S+  open_day")  # the job, then what it posted
        first = chat.until(r"^shop> \[(quote-\d+)\] Quote ")[1]
        chat.send("/tasks")
        chat.until(rf"^tasks> \[{first}\] waiting for you")
        chat.send("/wait 12h")  # nobody answered: the shop has no quote and buys nothing
        chat.until(r"^info> it is ")
        chat.send("/books")
        bank = chat.until(r"^books> .*: bank \$([\d,]+\.\d\d),")[1]
        assert bank == "1,000.00" and not any("purchase-" in line for line in chat.seen)
        chat.send(f"/do {first}")
        chat.until(rf"^info> {first}: done as asked")
        chat.send("/do all")  # the rest of the morning's requests
        chat.send("/wait 1d")  # the shop has its prices: it asks for firm quotes of what it will buy
        chat.until(r"^shop> \[quote-\d+\] Quote quote-\d+: Quote for \d\d x ")
        chat.until(r"^info> it is ")
        chat.send("/do all")
        chat.send("/wait 12h")
        purchase = chat.until(r"^shop> \[(purchase-\d+)\] Buy from ")[1]
        chat.until(r"^info> it is ")
        chat.send("/tasks")
        chat.until(rf"^tasks> \[{purchase}\] waiting for you")
        chat.send(f"/do {purchase}")
        chat.until(rf"^info> {purchase}: done as asked")
        chat.send("/books")
        paid = chat.until(r"^books> .*: bank \$([\d,]+\.\d\d),")[1]
        chat.send("/tasks")
        chat.until(rf"^tasks> \[{purchase}\] in progress \(purchase_delivered")  # paid; delivery to come
    finally:
        rc = chat.close()
    assert rc == 0, chat.proc.stderr.read() if chat.proc.stderr else ""
    assert float(paid.replace(",", "")) < float(bank.replace(",", ""))  # the supplier was paid
    _nothing_left_running(tmp_path / "ops")


ASK = "Hello shop, do you sell stroopwafels?"
ANSWER = "Hi! Not yet, but I can ask our supplier for them."


def _shopkeeper(body: dict[str, Any]) -> Reply:
    """The model: reads the inbox when told messages arrived, and answers the customer who wrote ASK."""
    last = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    content = last["content"] if isinstance(last["content"], list) else [{"type": "text", "text": last["content"]}]
    results = [b for b in content if b.get("type") == "tool_result"]
    if results:
        found = json.loads(str(results[-1]["content"]))
        for item in found.get("items", []) if isinstance(found, dict) else []:
            if item.get("text") == ASK:
                return reply(tool_use("send_message", {"conversation": item["conversation"], "text": ANSWER,
                                                       "thread": item["thread"]}))
        return reply(text("Done for now."))
    if any("read_inbox" in str(b.get("text", "")) for b in content):
        return reply(tool_use("read_inbox", {}))
    return reply(text("Nothing to do."))


def test_the_llm_shopkeeper_reads_the_dm_and_its_answer_is_printed(tmp_path: Path) -> None:
    """--policy llm against the loopback Messages API: the typed line reaches the model in read_inbox's
    result, as a live DM would; the model's send_message is the DM reply printed."""
    with FakeAnthropic(responder=_shopkeeper) as fake:
        done, lines, run_dir = _chat(tmp_path, f"{ASK}\n", "--policy", "llm", "--llm-base-url", fake.url,
                                     env=_env(ANTHROPIC_API_KEY="sk-test-not-a-real-key"))
        requests = fake.message_requests
        assert fake.violations == []
    assert done.returncode == 0, done.stderr.decode()
    assert f"shop> {ANSWER}" in lines
    inbox = [r for r in requests if ASK in json.dumps(r.json["messages"][-1])]
    assert inbox and inbox[0].json["messages"][-1]["content"][0]["type"] == "tool_result"
    assert (run_dir / "transcript.jsonl").is_file()
    assert ANSWER in (run_dir / "transcript.jsonl").read_text()
    _nothing_left_running(run_dir)


def test_as_ops_the_engineer_decides_an_approval(tmp_path: Path) -> None:
    """A request for approval waits for the engineer (the scenario's approver persona does not answer it);
    /reject presses the button in Slack and the shop books the decision."""
    done, lines, run_dir = _chat(tmp_path, "/day\n/approve nope\n/reject approval-00001\n/tasks\n/next\n",
                                 "--as", "ops", "--policy", f"scripted:{HERE / 'approval.toml'}")
    assert done.returncode == 0, done.stderr.decode()
    assert "shop> [approval-00001] Approval needed: refund:R-00042 up to $12.00" in lines
    assert "refused> no approval 'nope' waits for you; /tasks" in lines
    assert "info> approval-00001: rejected" in lines and "tasks> nothing open in the ops channel" in lines
    decided = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()
               if '"approval_decided"' in line]
    assert [(d["approval_id"], d["approved"], d["approver"]) for d in decided] == [
        ("approval-00001", False, "U0OPSHIL01")]
