"""`vend chat`: an engineer in a simulated shop, in the terminal, as a customer (default) or as ops.

The shop is `vend hil`'s (bridge/compose/hil.py): `vend live`'s composition (build_live) on a virtual
clock, the scenario's world as its outside, Slack on the loopback double with signed requests to the
shop's real /slack/events, Stripe on the loopback double with signed webhooks. Same policy, tools and
guardrails as live. Here the runtime's jobs are stepped one at a time (the loop `vend hil` runs in one
go), so time passes only when the engineer lets it: `/wait`, `/next`, `/day`, or the shop's next look
at its messages after a line is typed.

- As a customer, each line is a direct message to the shop from a Slack user of the workspace (an
  Events API `message.im`, signed, to /slack/events, as the world's customers write:
  OpsTeam.customers_write). The shop answers when its messages job runs (the runtime's `reminders`,
  every 4 hours, or the morning's `open_day`): live, a DM waits for that too, so the session moves
  the clock to that job and says so. The bot's posts in the DM are printed as `shop> ...`.
- As ops, the shop's requests in the ops channel (quotes to enter, purchases, restocks, cash
  collections, approvals) are printed and wait for the engineer: the simulated ops person
  (OpsTeam, bridge/compose/outside/ops.py) keeps them (`by_hand`), and `/do`, `/cant`, `/approve`,
  `/reject` press the same buttons and submit the same modals it would. The world's customers and
  machines keep playing.

Lines are checked at the edge as Slack's client would: at most MAX_TEXT characters, no control
characters. Every printed line starts with a prefix (`shop> `, `info> `, `books> `, `tasks> `,
`refused> `), so a script piped in gets output a test can parse.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bridge import events as ev
from bridge.errors import AdapterError, ConfigError

MAX_TEXT = 4_000  # Slack: a client limits a message to 4,000 characters (longer: split it or post a file)
MAX_WAIT = timedelta(days=31)
MAX_POST = 300  # characters of an ops-channel post printed (quote requests list every product)
CUSTOMER_USER = "U0CHATYOU1"  # the engineer as a customer of the workspace, and their DM with the shop
CUSTOMER_DM = "D0CHATYOU1"
READS_MESSAGES = ("reminders", "open_day", "weekly_review")  # the jobs whose session reads the inbox
_FLAGS = {"max_tokens": "--llm-max-tokens", "timeout_s": "--llm-timeout", "max_retries": "--llm-retries",
          "max_turns_per_session": "--llm-session-turns", "model": "--model", "base_url": "--llm-base-url"}
_SPAN = re.compile(r"(\d{1,5})\s*(d|h|m)")
_LINK = re.compile(r"https://checkout\.stripe\.com/c/pay/(\S+)")

HELP = {
    "customer": [
        "type a message to the shop (a Slack DM); the shop answers when it reads its messages",
        "/pay            pay the last payment link the shop sent you (on the Stripe double)",
    ],
    "ops": [
        "the shop's requests in the ops channel wait for you:",
        "/tasks          the requests open in the ops channel (waiting for you, or in progress)",
        "/do ID|all      do what it asks, as the ops team does: the supplier quotes, the order is placed",
        "                and paid, the restocker goes; confirmations follow when the world has done it",
        "/cant ID REASON press Can't and give the reason",
        "/approve ID     approve a request for approval; /reject ID rejects it",
        "any other line is a mention of the shop in the ops channel",
    ],
    "both": [
        "/wait 30m|2h|1d let time pass (the shop's jobs run, the world plays)",
        "/next           to the shop's next job;  /day  to the next day's open",
        "/books          the shop's balances (its check_balance tool);  /machine  its machine",
        "/products WORD  the products the shop could sell (the baseline knows them by their full names)",
        "/help  /quit    (end of input quits too)",
    ],
}


def refusal(line: str) -> str:
    """Why a typed line is refused at the edge ("" when it is taken)."""
    if len(line) > MAX_TEXT:
        return f"the line is {len(line):,} characters; Slack takes at most {MAX_TEXT:,} in a message"
    if any(unicodedata.category(c) == "Cc" for c in line):
        return "the line holds control characters"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in line):
        return "the line is not UTF-8"
    return ""


def parse_span(text: str) -> timedelta:
    """`30m`, `2h`, `1d`, `1h30m`: a span of time, more than none and at most MAX_WAIT."""
    text = text.strip().lower()
    parts = _SPAN.findall(text)
    if not parts or _SPAN.sub("", text).strip():
        raise ValueError(f"not a span of time: {text!r} (30m, 2h, 1d)")
    span = sum((timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[u]: int(n)}) for n, u in parts),
               timedelta())
    if not timedelta() < span <= MAX_WAIT:
        raise ValueError(f"wait more than nothing and at most {MAX_WAIT.days} days")
    return span


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


class ChatSession:
    """One engineer in one shop (a HilRun, built and not yet run). `handle(line)` takes a typed line
    (False: the session ends); every output line goes to `out`."""

    def __init__(self, run: Any, *, role: str, out: Callable[[str], None]) -> None:
        from bridge.policies.base import jobs_for

        self.run = run
        self.role = role
        self.out = out
        self.live = run.live
        self.runtime = run.live.runtime
        self.schedule = self.runtime.schedule
        self.outside = run.outside
        self.ops = run.outside.ops
        self.slack = self.ops.slack
        self.tz = self.live.ledger.tz
        self.reads = tuple(j for j in READS_MESSAGES if j in jobs_for(self.runtime.policy))
        self.shown: set[str] = set()  # ts of the bot's posts already printed
        self.crashes = 0
        self.written = 0
        self.ended = ""
        self.transcript: list[str] = []
        if role == "ops":
            self.ops.by_hand = True

    # --- output ----------------------------------------------------------------------------------
    def say(self, prefix: str, text: str) -> None:
        for line in (text.splitlines() or [""]):
            self.transcript.append(f"{prefix}> {line}")
            self.out(f"{prefix}> {line}")

    def now(self) -> datetime:
        now: datetime = self.live.runtime.backend.clock.now()
        return now

    def when(self, t: datetime | None = None) -> str:
        return f"{(t or self.now()).astimezone(self.tz):%a %Y-%m-%d %H:%M %Z}"

    def start(self) -> None:
        self.runtime.ingest()  # the opening balance, as the runtime's run() starts
        s = self.run.settings
        who = (f"a customer (Slack user {CUSTOMER_USER}, in a DM with the shop)" if self.role == "customer"
               else "ops (in the shop's ops channel)")
        self.say("info", f"vend chat: {self.run.scenario.name}, policy {s.policy}, seed {s.seed}; you are {who}")
        self.say("info", f"it is {self.when()}; the shop reads its messages at its "
                         f"{' and '.join(self.reads)} job(s). /help for commands")
        self.say("info", f"run folder {self.run.run_dir}")
        if self.role == "customer":
            self.say("info", "ask for products by their full names (/products WORD lists them)")

    # --- time ------------------------------------------------------------------------------------
    def _step(self) -> str:
        """Run the shop's next job (the world plays up to it first)."""
        when, job = self.schedule.pop()
        acted = self.runtime.outcome.messages
        self.runtime.run_job(when, job)
        line = f"{self.when(when)}  {job}"
        quiet = job == "reminders" and self.runtime.outcome.messages == acted  # nothing to read: no line
        if not quiet:
            self.say("info", line)
        self._check()
        self._show(lead=line if quiet else "")
        return job

    def _check(self) -> None:
        if self.outside.failure is not None:
            raise AdapterError(f"the simulated outside failed: {self.outside.failure!r}")
        crashes = self.runtime.outcome.crashes
        for crash in crashes[self.crashes:]:
            self.say("info", f"the shopkeeper crashed: {crash}")
        self.crashes = len(crashes)
        if self.runtime.outcome.ended_by and not self.ended:
            self.ended = self.runtime.outcome.ended_by
            self.say("info", f"the shop's run has ended ({self.ended}); /books, or /quit")

    def wait(self, span: timedelta) -> None:
        until = self.now() + span
        while not self.ended and (due := self.schedule.peek()) is not None and due <= until:
            self._step()
        if not self.ended:
            self.runtime.backend.events.wait_until(until)  # the world plays the rest of the span
            self._check()
            self._show()
        self.say("info", f"it is {self.when()}")

    def next_job(self) -> None:
        if not self.ended:
            self._step()

    def next_day(self) -> None:
        while not self.ended and self._step() != "open_day":
            pass

    def react(self) -> None:
        """After a message to the shop: on to the shop's next job that reads its messages."""
        if not self.ended and self.reads:
            due = self.schedule.peek()
            if due is not None and due > self.now():
                self.say("info", f"the shop reads messages at its next {'/'.join(self.reads)} job; "
                                 f"moving the clock there")
        before = len(self.transcript)
        while not self.ended and self._step() not in self.reads:
            pass
        if not any(line.startswith("shop> ") for line in self.transcript[before:]):
            self.say("info", "no answer yet; /next or /wait lets more time pass")

    # --- what the shop posted ----------------------------------------------------------------------
    def _show(self, *, lead: str = "") -> None:
        """Print the bot's new posts where the engineer is (after `lead`, an info line, if there are any)."""
        self.ops.intake()  # the automated ops person's reading (and, by hand, what is held for us)
        channel = CUSTOMER_DM if self.role == "customer" else _ops_channel()
        bot = self.slack.bot_user_id
        for m in sorted(self.slack.history(channel), key=lambda m: m["ts"]):
            if m.get("user") != bot or m["ts"] in self.shown:
                continue
            self.shown.add(m["ts"])
            if lead:
                self.say("info", lead)
                lead = ""
            text = _unescape(m.get("text", ""))
            first = _first_action(m)
            if self.role == "ops" and len(text) > MAX_POST:
                text = f"{text[:MAX_POST]}... ({len(text) - MAX_POST:,} more characters)"
            self.say("shop", f"[{first[1]}] {text}" if first else text)

    # --- the commands ------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        why = refusal(line)
        if why:
            self.say("refused", why)
            return True
        self.transcript.append(f"you> {line}")
        if not line.startswith("/"):
            if self.ended:
                self.say("refused", "the shop's run has ended; /books or /quit")
            elif self.role == "customer":
                self._dm(line)
            else:
                self._mention(line)
            return True
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name in ("/quit", "/exit"):
            return False
        if self.ended and name in ("/wait", "/next", "/day", "/do", "/cant", "/approve", "/reject", "/pay"):
            self.say("refused", f"the shop's run has ended ({self.ended}); /books or /quit")
            return True
        command = {"/help": self._help, "/books": self._books, "/machine": self._machine,
                   "/products": self._products,
                   "/next": lambda _: self.next_job(), "/day": lambda _: self.next_day(), "/wait": self._wait,
                   "/tasks": self._tasks, "/do": self._do, "/cant": self._cant, "/approve": self._approve,
                   "/reject": self._reject, "/pay": self._pay}.get(name)
        ops_only = name in ("/tasks", "/do", "/cant", "/approve", "/reject")
        if command is None or (ops_only and self.role != "ops") or (name == "/pay" and self.role != "customer"):
            self.say("refused", f"unknown command {name} here; /help")
            return True
        command(rest)
        return True

    def _help(self, _: str) -> None:
        for line in HELP[self.role] + HELP["both"]:
            self.say("info", line)

    def _wait(self, rest: str) -> None:
        try:
            span = parse_span(rest)
        except ValueError as err:
            self.say("refused", str(err))
            return
        self.wait(span)

    def _books(self, _: str) -> None:
        self.runtime.ingest()  # what the adapters hold is booked first, as live's ingest loop does
        b = self.runtime.tools.check_balance()
        self.say("books", f"{self.when()}: bank {_money(b['bank_cents'])}, card unsettled "
                          f"{_money(b['card_pending_cents'])}, cash in machine {_money(b['machine_cash_cents'])}, "
                          f"inventory at cost {_money(b['inventory_value_cents'])}, prepaid orders "
                          f"{_money(b.get('prepaid_orders_cents', 0))}, net worth {_money(b['net_worth_cents'])}")
        self.say("books", f"units sold {self.live.ledger.units_sold_total}, days closed "
                          f"{self.runtime.outcome.days_run}")

    def _products(self, rest: str) -> None:
        word = rest.lower()
        items = self.runtime.tools.list_products(per_page=1000)["items"]
        found = [p for p in items if word in p["name"].lower() or word in p["sku"] or word == p["category"]]
        for p in found:
            self.say("books", f"{p['name']} ({p['sku']}, {p['category']}): usually {_money(p['reference_price_cents'])}")
        if not found:
            self.say("books", f"no product matches {rest!r}")

    def _machine(self, _: str) -> None:
        machine = self.runtime.tools.check_machine()
        for s in machine.get("slots", []):
            if s.get("sku"):
                self.say("books", f"{s['slot']}: {s['sku']} x {s['count']} at {_money(s['price_cents'])}")
        if not any(s.get("sku") for s in machine.get("slots", [])):
            self.say("books", "the machine is empty")

    # --- a customer --------------------------------------------------------------------------------
    def _dm(self, text: str) -> None:
        """A DM from the engineer, delivered as the world's customers' are (OpsTeam.customers_write)."""
        from hardware_adapters.doubles.slack_objects import SlackUser

        with self.slack.lock:
            if CUSTOMER_USER not in self.slack.users:
                self.slack.add_user(SlackUser(id=CUSTOMER_USER, name="you"))
        self.written += 1
        ts = f"{int(self.now().timestamp()):010d}.{900_000 + self.written:06d}"  # its own, as Slack gives one
        self.ops.customers_write([ev.MessageReceived(
            id=f"chat:{self.written}", ts=self.now(), shop=self.live.ledger.shop, conversation=CUSTOMER_DM,
            sender=CUSTOMER_USER, role="customer", text=text, thread=ts)])
        self.react()

    def _pay(self, _: str) -> None:
        """Pay the last payment link the shop sent in the DM, on the Stripe double; its webhooks tell the shop."""
        cards = self.outside.cards
        links = [m for m in _LINK.findall(" ".join(_unescape(m.get("text", "")) for m in
                                                   self.slack.history(CUSTOMER_DM)))]
        if cards is None or not links:
            self.say("refused", "the shop has sent you no payment link")
            return
        from hardware_adapters.doubles.stripe_wire import StripeError

        session = links[-1].rstrip(".,)")
        try:
            cards.stripe.complete_checkout_session(session)
        except StripeError as err:  # a session it does not know, one already paid or expired
            self.say("refused", f"the link was not paid: {err}")
            return
        cards.deliver()
        self.say("info", f"paid {session}; Stripe's webhook told the shop")

    # --- ops ---------------------------------------------------------------------------------------
    def _mention(self, text: str) -> None:
        """A mention of the shop in the ops channel by the ops person (a question, a note)."""
        from bridge.compose.outside.ops import OPS_USER

        door = self.ops.door
        envelope = door.inbound.app_mention(user=OPS_USER, channel=_ops_channel(), text=text, at=self.ops.now)
        self.slack.add_message(_ops_channel(), user=OPS_USER, text=envelope["event"]["text"],
                               ts=envelope["event"]["ts"])
        door.event(envelope)
        self.react()

    def _open(self) -> list[tuple[str, dict[str, Any], list[str]]]:
        """The ops channel's posts with buttons: (id, post, the buttons' action ids)."""
        bot = self.slack.bot_user_id
        out = []
        for m in self.slack.history(_ops_channel()):
            if m.get("user") != bot:
                continue
            buttons = [e["action_id"] for b in m.get("blocks", []) if b.get("type") == "actions"
                       for e in b.get("elements", [])]
            first = _first_action(m)
            if first and buttons:
                out.append((first[1], m, buttons))
        return out

    def _tasks(self, _: str) -> None:
        held = {value for _, value, _, _ in self.ops.held}
        found = self._open()
        for ident, m, buttons in found:
            state = "waiting for you" if ident in held else f"in progress ({', '.join(buttons)})"
            self.say("tasks", f"[{ident}] {state}: {_unescape(m.get('text', ''))[:160]}")
        if not found:
            self.say("tasks", "nothing open in the ops channel")

    def _held(self, ident: str) -> tuple[str, str, dict[str, Any], str] | None:
        return next((h for h in self.ops.held if h[1] == ident), None)

    def _do(self, rest: str) -> None:
        idents = [h[1] for h in self.ops.held] if rest == "all" else rest.split()
        if not idents:
            self.say("refused", "nothing waits for you; /tasks" if rest == "all" else "/do ID [ID...] or /do all")
            return
        for ident in idents:
            held = self._held(ident)
            if held is None:
                self.say("refused", f"no request {ident!r} waits for you; /tasks")
                continue
            self.ops.held.remove(held)
            unanswered = len(self.ops.unanswered)
            self.ops.answer(*held)
            for why in self.ops.unanswered[unanswered:]:
                self.say("info", f"not done: {why}")
            self.say("info", f"{ident}: done as asked; the shop takes it in at its next job")
        self._show()

    def _cant(self, rest: str) -> None:
        ident, _, reason = rest.partition(" ")
        post = next(((m, b) for i, m, b in self._open() if i == ident), None)
        if post is None or "task_cant" not in post[1] or not reason.strip():
            self.say("refused", "give the id of an open task and a reason: /cant ID REASON")
            return
        held = self._held(ident)
        if held is not None:
            self.ops.held.remove(held)
        self.ops.cant(ident, post[0]["ts"], reason.strip())
        self.say("info", f"{ident}: can't ({reason.strip()})")
        self._show()

    def _approve(self, rest: str, *, approve: bool = True) -> None:
        from bridge.compose.outside.ops import OPS_USER

        held = self._held(rest)
        if held is None or held[0] != "approval_approve":
            self.say("refused", f"no approval {rest!r} waits for you; /tasks")
            return
        self.ops.held.remove(held)
        self.ops.door.click(user=OPS_USER, action_id="approval_approve" if approve else "approval_reject",
                            value=rest, message_ts=held[2]["ts"], at=self.ops.now)
        self.say("info", f"{rest}: {'approved' if approve else 'rejected'}")
        self._show()

    def _reject(self, rest: str) -> None:
        self._approve(rest, approve=False)

    # --- the end -----------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Book what is pending, write the run folder (summary, events, the chat), return the summary."""
        from bridge.compose.hil import write_hil_report

        run = self.run
        self.runtime.ingest()
        self.live.loop.commit()
        self.runtime.store.flush()
        run.outcome = self.runtime.outcome
        if not run.outcome.ended_by:
            run.outcome.ended_by = "chat ended"
        summary: dict[str, Any] = run.summary()
        summary["chat_role"] = self.role
        summary["chat_lines"] = sum(1 for line in self.transcript if line.startswith("you> "))
        write_hil_report(run, summary)
        (run.run_dir / "chat.txt").write_text("\n".join(self.transcript) + "\n")
        return summary


def _ops_channel() -> str:
    from bridge.compose.outside.ops import OPS_CH

    return OPS_CH


def _first_action(m: dict[str, Any]) -> tuple[str, str] | None:
    for b in m.get("blocks", []):
        if b.get("type") == "actions" and b.get("elements"):
            e = b["elements"][0]
            return str(e["action_id"]), str(e.get("value", ""))
    return None


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def read_lines(stream: IO[str], *, limit: int = MAX_TEXT) -> Iterator[str]:
    """Lines from a pipe, none held longer than `limit` + 2 characters: a longer one is handed on cut
    (and so refused as too long) and the rest of it skipped."""
    while chunk := stream.readline(limit + 2):
        if chunk.endswith("\n") or len(chunk) < limit + 2:
            yield chunk.rstrip("\r\n")
            continue
        while (rest := stream.readline(65_536)) and not rest.endswith("\n"):
            pass
        yield chunk


def _typed(prompt: str) -> Iterator[str]:
    import contextlib

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 (line editing and history at the prompt)
    while True:
        try:
            yield input(prompt)
        except EOFError:
            return


# --- the command -------------------------------------------------------------------------------------


def add_chat_command(sub: Any) -> None:
    from bridge.argtypes import zero_or_more
    from bridge.cli_llm import add_llm_flags

    chat = sub.add_parser("chat", help="talk to the shopkeeper in a simulated shop, as a customer or as ops",
                          description="vend live's shop on a virtual clock with the scenario's world around it (as "
                                      "vend hil): type as a customer (a Slack DM) or, with --as ops, answer the "
                                      "shop's requests in its ops channel. Reads lines from a pipe when stdin is "
                                      "not a terminal; every output line has a prefix (shop>, info>, books>, ...).")
    chat.add_argument("--as", dest="role", choices=("customer", "ops"), default="customer",
                      help="who you are in the shop (default customer)")
    chat.add_argument("--scenario", default="project_vend",
                      help="built-in scenario name or a TOML file (default project_vend: it has customers)")
    chat.add_argument("--seed", type=zero_or_more, default=7)
    chat.add_argument("--policy", default="baseline", help="baseline, llm or scripted:FILE")
    chat.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders (default runs/)")
    chat.add_argument("--name", default="", help="run folder name (default: scenario-policy-seed-chat-time)")
    chat.add_argument("--model", default="", help="--policy llm: the Anthropic model (default claude-sonnet-4-6)")
    chat.add_argument("--llm-base-url", default="",
                      help="--policy llm: an Anthropic-compatible endpoint (default $ANTHROPIC_BASE_URL, else Anthropic)")
    add_llm_flags(chat)


def run_chat(args: Any) -> int:
    import logging

    from bridge.cli_llm import Interrupted, stopping_on_signals
    from bridge.compose.hil import HilSettings, build_hil

    logging.getLogger("vendbridge").setLevel(logging.WARNING)
    llm = None
    if args.policy == "llm":
        from pydantic import ValidationError

        from bridge.cli_llm import llm_overrides
        from bridge.live.config import LlmSection
        from bridge.llm.adapter import api_key_from_env

        fields = {"model": args.model} if args.model else {}
        try:
            llm = LlmSection(base_url=args.llm_base_url, **fields, **llm_overrides(args))
        except ValidationError as err:
            first = err.errors()[0]
            flag = _FLAGS.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "--policy llm"
            raise ConfigError(f"{flag}: {first['msg']}") from None
        llm.settings()  # a model without a known price: one line here
        api_key_from_env()  # no key: one line before anything starts
    if args.role == "customer":
        from sim_backend.scenario import load_scenario

        scenario = load_scenario(args.scenario)
        if scenario.customers is None:  # the live shop's Slack then takes no DMs: nobody would ever answer
            raise ConfigError(f"scenario {scenario.name!r} has no customers who write to the shop (no [customers] "
                              f"table), so its shop reads no DMs; chat as a customer in project_vend, or --as ops")
    settings = HilSettings(scenario=args.scenario, seed=args.seed, policy=args.policy, out_dir=args.out,
                           run_name=args.name, charts=False, mode="chat", llm=llm)
    tty = sys.stdin.isatty()
    if not tty and hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")  # bytes that are not UTF-8 are refused, not fatal

    def out(line: str) -> None:
        print(line, flush=True)

    run = build_hil(settings)
    try:
        session = ChatSession(run, role=args.role, out=out)
        try:
            with stopping_on_signals():
                session.start()
                for line in (_typed("you> ") if tty else read_lines(sys.stdin)):
                    if not session.handle(line):
                        break
        except Interrupted as stop:
            if tty:
                print()  # off the prompt's line
            session.say("info", f"stopped ({stop.name})")
        except AdapterError as err:  # a failure of the loop itself (broker, doubles): one line, exit 1
            print(f"vend: error: {err}", file=sys.stderr)
            return 1
        summary = session.finish()
        session.say("info", f"the chat ended at {session.when()}: net worth {_money(summary['net_worth_cents'])}, "
                            f"{summary['days_run']} day(s) closed; run folder {run.run_dir}")
    finally:
        run.close()
    return 0
