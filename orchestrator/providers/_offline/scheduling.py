"""Carbon-step policies for scheduling a load: "is now a good time?" (yes or no first) and the
saving from shifting the user's share of the user's load into the cleanest window.

Both ask ``grid_best_window`` (today, or tomorrow when too little of today is left) and build
on the cleanest-window findings; the kWh moved is the user's amount times the user's share.
"""

from __future__ import annotations

from datetime import timedelta

from orchestrator.providers._offline import fmt
from orchestrator.providers._offline.extract import DateRange
from orchestrator.providers._offline.grid import (
    best_window_call,
    failed,
    findings_text,
    timing_findings,
    unavailable,
)
from orchestrator.providers._offline.interpretation import future_part
from orchestrator.providers._offline.turns import Answer, Decision, StepInput

__all__ = ["now_check_policy", "shift_savings_policy"]


def now_check_policy(s: StepInput) -> Decision:
    """ "Is now a good time?": yes or no first, the current level, then the next better time."""
    u = s.understanding
    if not s.can("grid_best_window"):
        return unavailable("grid_best_window", "check the grid now")
    today = DateRange(u.today, u.today, "today")
    best = s.last("grid_best_window")
    if best is None:
        return (best_window_call(s, today),)
    if not best.ok and s.tries("grid_best_window") == 1:
        tomorrow = DateRange(u.today + timedelta(days=1), u.today + timedelta(days=1), "tomorrow")
        return (best_window_call(s, tomorrow),)
    if not best.ok:
        return Answer(findings_text([failed("check the grid now", best)]))
    out = best.output
    findings = timing_findings(u, out, None)
    findings.topic = "grid_now"
    findings.title = "Is now a good time?"
    now_window = out.get("now_window")
    if now_window is None:
        findings.headline = (
            "I cannot say whether now is good: the grid data has no value for the current "
            f"time. {findings.headline}"
        )
        return Answer(findings_text([findings]))
    thresholds = out["thresholds"]
    now_mean = now_window["mean"]
    level = (
        "low"
        if now_mean <= thresholds["p33"]
        else ("high" if now_mean > thresholds["p66"] else "medium")
    )
    saving_pct = out.get("saving_vs_now_pct") or 0.0
    tz = fmt.zone(out.get("timezone"))
    window = out["window"]
    if level == "low" or saving_pct < 5.0:
        verdict = (
            f"Yes: now is a good time. Running now averages {fmt.intensity(now_mean)}, {level} "
            f"for the day"
        )
        verdict += (
            f", within {fmt.pct(saving_pct)} of the cleanest window "
            f"({fmt.when(window['start'], window['end'], tz)})."
            if saving_pct > 0
            else "; no cleaner window is ahead."
        )
    else:
        verdict = (
            f"No: now is not a good time. Running now averages {fmt.intensity(now_mean)} "
            f"({level} for the day); the next better time is "
            f"{fmt.when(window['start'], window['end'], tz)} at {fmt.intensity(window['mean'])}, "
            f"{fmt.pct(saving_pct)} lower."
        )
    findings.headline = f"{verdict} {findings.headline}"
    return Answer(findings_text([findings]))


# ---------------------------------------------------------------------------- shift saving


def shift_savings_policy(s: StepInput) -> Decision:
    """The saving from moving the user's share of the user's load to the cleanest window of
    the hours they named: ``grid_best_window`` computes it for that many kWh."""
    u = s.understanding
    if not s.can("grid_best_window"):
        return unavailable("grid_best_window", "estimate the saving")
    energy = [q.value for q in u.quantities if q.activity == "electricity"]
    moved = None
    if energy:
        moved = energy[0] * (u.shares[0] / 100.0 if u.shares else 1.0)
    period = future_part(u.period(), u.today)
    best = s.last("grid_best_window")
    if best is None:
        return (best_window_call(s, period, moved),)
    if not best.ok and s.tries("grid_best_window") == 1 and period.end <= u.today:
        # Too little of today is left in the named hours: tomorrow is the next chance.
        tomorrow = DateRange(u.today + timedelta(days=1), u.today + timedelta(days=1), "tomorrow")
        return (best_window_call(s, tomorrow, moved),)
    if not best.ok:
        return Answer(findings_text([failed("estimate the saving", best)]))
    out = best.output
    findings = timing_findings(u, out, None)
    findings.topic = "grid_shift"
    findings.title = "Saving from shifting load"
    moved_text = (
        f"{fmt.num(moved, 1).removesuffix('.0')} kWh"
        + (
            f" ({u.shares[0]:g}% of {fmt.num(energy[0]).removesuffix('.0')} kWh)"
            if u.shares
            else ""
        )
        if moved
        else "each kWh"
    )
    avoided = out.get("saving_vs_day_mean_kg")
    if moved and avoided is not None:
        lead = (
            f"Moving {moved_text} into the cleanest window avoids {fmt.kg(avoided)} compared with "
            f"using it at the day's mean intensity"
        )
        if out.get("saving_vs_now_kg") is not None:
            lead += f" ({fmt.kg(out['saving_vs_now_kg'])} compared with running it now)"
        findings.headline = f"{lead}. {findings.headline}"
    else:
        findings.headline = (
            f"Each kWh moved into the cleanest window saves {fmt.num(out['saving_vs_day_mean'])} "
            f"gCO2 compared with the day's mean. {findings.headline}"
        )
    return Answer(findings_text([findings]))
