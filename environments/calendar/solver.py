"""A schedule meeting every requirement, found by backtracking, or proof that none exists.

The search picks which event comes next in the day and places it as early as its window and
the previous event allow. That loses nothing: in any valid schedule, moving each event (in
start order) as early as its window and its predecessor allow keeps it valid, so if a valid
schedule exists, one of these left-packed orders is one. Dead ends are remembered by (events
placed, time reached), which keeps the search small for the ten or so events of a day.
"""

from __future__ import annotations

from environments.calendar.schedule import Requirements

__all__ = ["solve"]


def solve(requirements: Requirements) -> dict[int, int] | None:
    """A start (minutes since midnight) for every event, or None when no schedule exists."""
    events = sorted(requirements.events, key=lambda event: requirements.window(event)[1])
    index = {event.event_id: position for position, event in enumerate(events)}
    windows = [requirements.window(event) for event in events]
    durations = [event.duration for event in events]
    before = [0] * len(events)  # bitmask of the events that must end before each one starts
    for order in requirements.orders():
        before[index[order.then]] |= 1 << index[order.first]
    everything = (1 << len(events)) - 1
    dead_ends: set[tuple[int, int]] = set()
    starts = [0] * len(events)

    def place(placed: int, now: int) -> bool:
        if placed == everything:
            return True
        if (placed, now) in dead_ends:
            return False
        waiting = [i for i in range(len(events)) if not placed >> i & 1]
        if all(max(windows[i][0], now) <= windows[i][1] for i in waiting):
            for i in waiting:
                if before[i] & ~placed:
                    continue
                starts[i] = max(windows[i][0], now)
                if place(placed | 1 << i, starts[i] + durations[i]):
                    return True
        dead_ends.add((placed, now))
        return False

    if not place(0, requirements.hours.start):
        return None
    return {event.event_id: starts[index[event.event_id]] for event in requirements.events}
