"""A shop process that stops carries on from where it stopped (bridge/resume.py): the schedule goes on
after the last job run, whatever ran at the same instant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.jobs import shop_jobs
from scheduler.virtual import VirtualSchedule

TZ = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=TZ)  # a Monday: the weekly review too


def test_the_schedule_goes_on_after_the_last_job_run_and_runs_each_job_once() -> None:
    """From every point of three days (the open and the reminders both at 8:00, the weekly review at 8:30),
    a schedule rebuilt from the run's start with `after` = the last job run gives exactly the jobs the
    first one gave after it: a job due at the restart's own time runs once, not twice, not never."""
    jobs = shop_jobs(TZ, start=T0)
    first = VirtualSchedule(jobs, start=T0)
    fired = [first.pop() for _ in range(24)]
    assert fired[:3] == [(T0, "reminders"), (T0.replace(hour=4), "reminders"), (T0.replace(hour=8), "open_day")]
    assert fired[3] == (T0.replace(hour=8), "reminders")  # due at the same instant as the open
    for k in range(len(fired) - 1):
        again = VirtualSchedule(jobs, start=T0, after=fired[k])
        assert [again.pop() for _ in range(len(fired) - k - 1)] == fired[k + 1:], fired[k]


class _Shell:
    """What a hostile row of `runtime_state.memory` could ask pickle to call."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch /tmp/vend-resume-pwned",))


def test_a_saved_memory_names_only_the_shopkeepers_own_classes_and_plain_data(tmp_path: Path) -> None:
    """The memory is read back from the store, which may be a shared database: a row naming os.system, a
    module reached through a project module, eval, a private attribute or a method of a class is refused
    before anything is called; the shopkeeper's real memory (the baseline's, with its ZoneInfo, deques,
    defaultdicts of a module function and bound-method callbacks) loads."""
    import io
    import os
    import pickle

    from bridge.resume import _Pickler, _Unpickler

    marker = Path("/tmp/vend-resume-pwned")
    marker.unlink(missing_ok=True)
    hostile = [
        pickle.dumps(_Shell()),
        b"cbridge.policies.demand\nmath\n.",  # a module a memory module imports
        b"cbridge.policies.demand\ndefaultdict.__init__\n.",  # a dotted name
        pickle.dumps(eval),
        pickle.dumps(os.path.join),
    ]
    for blob in hostile:
        with pytest.raises(pickle.UnpicklingError):
            _Unpickler(io.BytesIO(blob), {}).load()
    assert not marker.exists()
    from bridge.resume import _safe_getattr

    with pytest.raises(pickle.UnpicklingError):
        _safe_getattr(TZ, "__class__")
    with pytest.raises(pickle.UnpicklingError):
        _safe_getattr(VirtualSchedule, "pop")  # a class's function: not a kept callback
    # the memory of a shop that ran a few days: every part of it loads (the wiring given back by name)
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    sim = build_sim(SimSettings(scenario="project_vend", days=3, seed=2, out_dir=tmp_path, charts=False,
                                run_name="mem"))
    sim.run()
    rt = sim.runtime
    wiring = {"backend": rt.backend, "ledger": rt.ledger, "store": rt.store, "clock": rt.backend.clock,
              "toolbox": rt.toolbox, "runtime": rt, "policy": rt.policy, "tools": rt.tools}
    for i, g in enumerate(sim.toolbox_groups):  # as Resume keeps the groups: by name
        wiring.setdefault(f"group:{i}", g)
    from bridge.compose.sim import sim_tool_groups
    from bridge.resume import _state_of

    sim_only = {type(g) for g in sim_tool_groups(sim.world)}  # over the simulator's directory: not live
    keep = [rt.policy, *[g for g in sim.toolbox_groups if g is not rt.policy and type(g) not in sim_only]]
    assert len(keep) > 1
    fh = io.BytesIO()
    _Pickler(fh, {id(v): k for k, v in wiring.items()}).dump([_state_of(o) for o in keep])
    assert b"Size" in fh.getvalue() and b"ZoneInfo" in fh.getvalue()  # an enum member and a zone are in it
    back = _Unpickler(io.BytesIO(fh.getvalue()), wiring).load()
    assert [state.keys() for state in back] == [_state_of(o).keys() for o in keep]
    sim.store.close()
