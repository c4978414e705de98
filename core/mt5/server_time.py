"""A trade server's clock, and broker times to and from UTC.

MT5 gives deal, position and tick times (`time` seconds, `time_msc` milliseconds) as the
trade server's wall clock written as if it were UTC, and `history_deals_get` compares its
bounds with that same clock. Each server's clock is a setting, one of:

- an IANA zone (`Europe/Helsinki`),
- a fixed offset (`UTC`, `UTC+02:00`, `+03:00`, `UTC-05:00`),
- `ny-close`: UTC+2, and UTC+3 while New York observes daylight saving (most brokers: the
  server's midnight is 17:00 in New York all year round).

`server_zone(spec)` gives the tzinfo of a spec; every conversion goes through it:
`wall_of(utc, zone)` is the server's wall clock at an instant (naive, as the package
takes its bounds), `utc_of_msc(msc, zone)` the real UTC milliseconds of a broker time.
A wall time the clock skips or shows twice is read as PEP 495 says (fold=0: the offset in
force before the change)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.mt5.types import SymbolInfo, Tick, TradeDeal, TradeOrder, TradePosition

NY_CLOSE = "ny-close"
NEW_YORK = ZoneInfo("America/New_York")
WINTER, SUMMER = timedelta(hours=2), timedelta(hours=3)
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")
EPOCH = datetime(1970, 1, 1)


def _new_york_summer(instant_utc: datetime) -> bool:
    return bool(instant_utc.replace(tzinfo=UTC).astimezone(NEW_YORK).dst())


class NyCloseZone(tzinfo):
    """UTC+2, UTC+3 while New York observes daylight saving: the clock changes at the
    instants New York's does (07:00 UTC in March, 06:00 UTC in November)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return WINTER
        wall = dt.replace(tzinfo=None)
        summer_fits = _new_york_summer(wall - SUMMER)
        winter_fits = not _new_york_summer(wall - WINTER)
        if summer_fits and winter_fits:  # shown twice (November): fold 0 is the first, summer
            return WINTER if dt.fold else SUMMER
        if summer_fits or winter_fits:
            return SUMMER if summer_fits else WINTER
        return SUMMER if dt.fold else WINTER  # skipped (March): fold 0 reads the offset before

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - WINTER

    def tzname(self, dt: datetime | None) -> str:
        return "UTC+03" if self.utcoffset(dt) == SUMMER else "UTC+02"

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        offset = SUMMER if _new_york_summer(utc) else WINTER
        wall = utc + offset
        # The second showing of a repeated hour: winter offset, and the summer one fits too.
        fold = int(offset == WINTER and _new_york_summer(wall - SUMMER))
        return wall.replace(tzinfo=self, fold=fold)

    def __repr__(self) -> str:
        return "NyCloseZone()"


def server_zone(spec: str) -> tzinfo:
    """The tzinfo of a server clock spec (see the module docstring); ValueError names a
    spec that is none of them."""
    if spec == NY_CLOSE:
        return NyCloseZone()
    if spec.upper() == "UTC":
        return UTC
    match = _OFFSET.match(spec)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset >= timedelta(hours=24):
            raise ValueError(f"offset out of range: {spec!r}")
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(spec)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA zone, a fixed offset or {NY_CLOSE!r}: {spec!r}") from exc


def valid_spec(spec: str) -> str:
    server_zone(spec)
    return spec


def wall_of(instant: datetime, zone: tzinfo) -> datetime:
    """The server's wall clock at `instant` (aware), naive: a history_deals_get bound."""
    if instant.tzinfo is None:
        raise ValueError("instant must be an aware datetime")
    return instant.astimezone(zone).replace(tzinfo=None)


def utc_of_wall(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of a server wall-clock time (naive)."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def utc_of_msc(msc: int, zone: tzinfo) -> int:
    """A broker time in milliseconds (the server's wall clock since 1970-01-01) as real UTC
    milliseconds since the epoch."""
    if type(zone) is timezone:  # a fixed offset (UTC among them): no wall time to build
        offset = zone.utcoffset(None)
        return msc - (offset.days * 86_400_000 + offset.seconds * 1000 + offset.microseconds // 1000)
    wall = EPOCH + timedelta(milliseconds=msc)
    offset = wall.replace(tzinfo=zone).utcoffset() or timedelta(0)
    return msc - int(offset / timedelta(milliseconds=1))


def utc_of_seconds(seconds: int, zone: tzinfo) -> int:
    """A broker time in seconds as real UTC seconds since the epoch."""
    return utc_of_msc(seconds * 1000, zone) // 1000


def msc_of_wall(instant: datetime, zone: tzinfo) -> int:
    """The broker's milliseconds for an instant (aware): its wall clock as if it were UTC
    (what a server of this clock shows; the simulator uses it)."""
    return int((wall_of(instant, zone) - EPOCH) / timedelta(milliseconds=1))


def deal_in_utc(deal: TradeDeal, zone: tzinfo) -> TradeDeal:
    """The deal with `time` and `time_msc` in real UTC."""
    msc = utc_of_msc(deal.time_msc, zone)
    return deal._replace(time=msc // 1000, time_msc=msc)


def position_in_utc(position: TradePosition, zone: tzinfo) -> TradePosition:
    """The position with its open and update times in real UTC."""
    opened, updated = utc_of_msc(position.time_msc, zone), utc_of_msc(position.time_update_msc, zone)
    return position._replace(time=opened // 1000, time_msc=opened, time_update=updated // 1000, time_update_msc=updated)


def order_in_utc(order: TradeOrder, zone: tzinfo) -> TradeOrder:
    """The pending order with its setup time, and its done and expiration times when set, in real UTC."""
    setup = utc_of_msc(order.time_setup_msc, zone)
    done = utc_of_msc(order.time_done_msc, zone) if order.time_done_msc else 0
    expiry = utc_of_seconds(order.time_expiration, zone) if order.time_expiration else 0
    return order._replace(
        time_setup=setup // 1000,
        time_setup_msc=setup,
        time_done=done // 1000,
        time_done_msc=done,
        time_expiration=expiry,
    )


def tick_in_utc(tick: Tick, zone: tzinfo) -> Tick:
    msc = utc_of_msc(tick.time_msc, zone)
    return tick._replace(time=msc // 1000, time_msc=msc)


def symbol_in_utc(info: SymbolInfo, zone: tzinfo) -> SymbolInfo:
    """The symbol's last quote time (`time`, seconds) in real UTC."""
    return info._replace(time=utc_of_seconds(info.time, zone)) if info.time else info
