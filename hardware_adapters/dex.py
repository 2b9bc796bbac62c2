"""EVA-DTS 6.1 DEX/UCS audit files: parse into `DexAudit`, generate from one, check the G85 CRC.

Framing (one segment per line, elements separated by `*`, lines ended by CR LF):

    DXS*<communication id>*VA*V0/6*1        transmission header
    ST*001*0001                             transaction set header
    ID1*<serial>*<model>*<build>*<location>**<asset>   ID4*<decimal places>*<currency>
    VA1 / CA2 / DA2*<value total>*<count total>*<value since reset>*<count since reset>
    PA1*<selection>*<price>                 PA2*<vends total>*<value total>*<vends reset>*<value reset>
    EA1*<code>*<YYMMDD>*<HHMM>              EA2*<code>*<count since reset>*<count total>**<active 0/1>
    G85*<CRC>                               SE*<segments ST..SE inclusive>*0001     DXE*1*1

Segments this module does not model (CA1, CA3, MA5, LS/LE, ...) are skipped on read. EA1 dates are
YYMMDD local time (read as 2000-2068 / 1969-1999, Python %y) in the `tz` the caller names.

G85 check value, exactly: CRC-16/ARC (polynomial x^16+x^15+x^2+1, i.e. 0x8005 processed LSB-first as
0xA001; initial value 0x0000; no final XOR; check value of b"123456789" is 0xBB3D), computed over the
ASCII bytes from the `S` of the ST segment up to and including the CR LF that ends the segment just
before G85, written as 4 uppercase hex digits. Line endings are normalised to CR LF before checking, so
a file whose CRs were stripped in transit still verifies. This scope (ST, not DXS) reproduces the G85 of
a real machine's audit (a 2024 Wittern controller dump, G85*E8BC); the DXS header belongs to the DDCMP/
DEX session rather than the transaction set. Some writers include the DXS line; `check_crc` accepts
that scope too, and `format_dex` always writes the ST scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from hardware_adapters.dex_records import (
    DexAudit,
    DexCrcError,
    DexError,
    DexEvent,
    SalesCounters,
    SelectionCounters,
)

__all__ = ["check_crc", "crc16_arc", "format_dex", "parse_dex"]


def crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _crlf(lines: Iterable[str]) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode("ascii")


def _segments(text: str) -> list[str]:
    return [line.strip("\r") for line in text.replace("\r\n", "\n").split("\n") if line.strip("\r ")]


def check_crc(text: str) -> None:
    """Raise `DexCrcError` unless the file's G85 matches its data (see the module doc for the bytes)."""
    lines = _segments(text)
    g85 = [i for i, line in enumerate(lines) if line.startswith("G85*")]
    st = [i for i, line in enumerate(lines) if line.startswith("ST*")]
    if len(g85) != 1 or len(st) != 1 or st[0] > g85[0]:
        raise DexCrcError("expected one ST and one G85 segment, ST first")
    stated = lines[g85[0]].split("*")[1].strip().upper()
    scopes = {f"{crc16_arc(_crlf(lines[st[0] : g85[0]])):04X}", f"{crc16_arc(_crlf(lines[: g85[0]])):04X}"}
    if stated not in scopes:
        raise DexCrcError(f"G85 says {stated}, data gives {sorted(scopes)[0]} (ST scope)")


def _int(value: str, segment: str) -> int:
    try:
        return int(value) if value.strip() else 0
    except ValueError as exc:
        raise DexError(f"{segment}: {value!r} is not an integer") from exc


def parse_dex(text: str, *, tz: tzinfo, verify_crc: bool = True) -> DexAudit:
    """Parse one audit. `tz` is the machine's zone (DEX dates are local); a bad CRC raises unless told."""
    lines = _segments(text)
    if not lines or not lines[0].startswith("DXS*") or not lines[-1].startswith("DXE"):
        raise DexError("a DEX file starts with DXS and ends with DXE")
    if verify_crc and any(line.startswith("G85*") for line in lines):
        check_crc(text)
    st = next((i for i, line in enumerate(lines) if line.startswith("ST*")), None)
    se = next((i for i, line in enumerate(lines) if line.startswith("SE*")), None)
    if st is None or se is None or se < st:
        raise DexError("missing ST/SE transaction set")
    stated_count = _int(lines[se].split("*")[1], "SE")
    if stated_count != se - st + 1:
        raise DexError(f"SE counts {stated_count} segments, found {se - st + 1}")

    decimals = 2
    fields: dict[str, object] = {"communication_id": lines[0].split("*")[1]}
    selections: list[SelectionCounters] = []
    events: list[DexEvent] = []
    pending: tuple[str, int] | None = None  # a PA1 waiting for its PA2

    def money(value: str, segment: str) -> int:
        raw = _int(value, segment)
        if decimals <= 2:
            return raw * 10 ** (2 - decimals)
        scale = 10 ** (decimals - 2)
        if raw % scale:
            raise DexError(f"{segment}: {raw} has sub-cent precision")
        return raw // scale

    def sales(el: list[str], name: str) -> SalesCounters:
        el = el + [""] * (5 - len(el))
        return SalesCounters(
            value_cents=money(el[1], name),
            count=_int(el[2], name),
            value_since_reset_cents=money(el[3], name),
            count_since_reset=_int(el[4], name),
        )

    def flush_pending() -> None:
        nonlocal pending
        if pending is not None:  # PA1 without PA2: a selection that never sold
            selections.append(
                SelectionCounters(selection=pending[0], price_cents=pending[1], vends=0, value_cents=0)
            )
            pending = None

    for line in lines[st + 1 : se]:
        el = line.split("*")
        tag = el[0]
        if tag == "ID1":
            el = el + [""] * (7 - len(el))
            fields.update(machine_serial=el[1].strip(), model=el[2].strip(), location=el[4].strip(),
                          asset_number=el[6].strip())  # fmt: skip
        elif tag == "ID4" and len(el) > 1 and el[1].strip():
            decimals = _int(el[1], "ID4")
        elif tag in ("VA1", "CA2", "DA2"):
            fields[{"VA1": "paid", "CA2": "cash", "DA2": "cashless"}[tag]] = sales(el, tag)
        elif tag == "PA1":
            flush_pending()
            el = el + [""] * (3 - len(el))
            pending = (el[1].strip(), money(el[2], "PA1"))
        elif tag == "PA2":
            if pending is None:
                raise DexError("PA2 without a preceding PA1")
            el = el + [""] * (5 - len(el))
            selections.append(
                SelectionCounters(
                    selection=pending[0],
                    price_cents=pending[1],
                    vends=_int(el[1], "PA2"),
                    value_cents=money(el[2], "PA2"),
                    vends_since_reset=_int(el[3], "PA2"),
                    value_since_reset_cents=money(el[4], "PA2"),
                )
            )
            pending = None
        elif tag == "EA1" and len(el) > 1 and el[1].strip():
            events.append(DexEvent(code=el[1].strip(), at=_event_time(el, tz)))
        elif tag == "EA2" and len(el) > 1 and el[1].strip():
            el = el + [""] * (6 - len(el))
            events.append(
                DexEvent(
                    code=el[1].strip(),
                    count_since_reset=_int(el[2], "EA2"),
                    count=_int(el[3], "EA2") if el[3].strip() else None,
                    active=(el[5].strip() == "1") if el[5].strip() else None,
                )
            )
    flush_pending()
    if "machine_serial" not in fields:
        raise DexError("no ID1 segment (machine serial)")
    if "paid" not in fields:
        raise DexError("no VA1 segment (paid vend totals)")
    return DexAudit(selections=tuple(selections), events=tuple(events), **fields)  # type: ignore[arg-type]


def _event_time(el: list[str], tz: tzinfo) -> datetime | None:
    date = el[2].strip() if len(el) > 2 else ""
    time = el[3].strip() if len(el) > 3 else "0000"
    if not date:
        return None
    try:
        return datetime.strptime(f"{date}{time or '0000'}", "%y%m%d%H%M").replace(tzinfo=tz)
    except ValueError as exc:
        raise DexError(f"EA1: bad date/time {date!r} {time!r}") from exc


def _sales_line(tag: str, s: SalesCounters) -> str:
    return f"{tag}*{s.value_cents}*{s.count}*{s.value_since_reset_cents}*{s.count_since_reset}"


def format_dex(audit: DexAudit, *, currency_numeric: str = "840") -> str:
    """The audit as a DEX file (CR LF lines, 2 decimal places, G85 over the ST scope)."""
    body = [
        "ST*001*0001",
        f"ID1*{audit.machine_serial}*{audit.model}**{audit.location}**{audit.asset_number}",
        f"ID4*2*{currency_numeric}",
        _sales_line("VA1", audit.paid),
    ]
    if audit.cash is not None:
        body.append(_sales_line("CA2", audit.cash))
    if audit.cashless is not None:
        body.append(_sales_line("DA2", audit.cashless))
    for s in audit.selections:
        body.append(f"PA1*{s.selection}*{s.price_cents}")
        body.append(f"PA2*{s.vends}*{s.value_cents}*{s.vends_since_reset}*{s.value_since_reset_cents}")
    for e in audit.events:
        if e.at is not None:
            body.append(f"EA1*{e.code}*{e.at:%y%m%d}*{e.at:%H%M}")
        else:
            active = "" if e.active is None else str(int(e.active))
            count = "" if e.count is None else str(e.count)
            body.append(f"EA2*{e.code}*{e.count_since_reset or 0}*{count}**{active}")
    crc = f"{crc16_arc(_crlf(body)):04X}"
    lines = [
        f"DXS*{audit.communication_id}*VA*V0/6*1",
        *body,
        f"G85*{crc}",
        f"SE*{len(body) + 2}*0001",
        "DXE*1*1",
    ]
    return _crlf(lines).decode("ascii")
