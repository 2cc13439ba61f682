"""Bulk SAT downloads: plan a long period as monthly requests and journal them for resume.

`plan_months` splits a period into validated calendar-month requests; `Journal` records each
month's progress on disk, atomically, so a crashed or cancelled run resumes without submitting
(and paying for) the same month twice.
"""

from gigstack_async.bulk.journal import (
    Journal,
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStateError,
    MonthEntry,
    PackageRecord,
    Phase,
)
from gigstack_async.bulk.plan import DownloadPlan, MonthSlot, PlanCriteria, plan_months

__all__ = [
    "DownloadPlan",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStateError",
    "MonthEntry",
    "MonthSlot",
    "PackageRecord",
    "Phase",
    "PlanCriteria",
    "plan_months",
]
