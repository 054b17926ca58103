"""What grading produces: a status per question and per submission, and the saved result of one submission."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

GRADER_ERROR = "grader error"  # the prefix of a message that reports a fault of the grader, not of the submission


class PartStatus(StrEnum):
    """One question's outcome."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_GRADED = "not graded"  # no points can be given (unreadable file, grader error): never a silent 0


class SubmissionStatus(StrEnum):
    """One submission's outcome."""

    GRADED = "graded"
    PARTLY = "partly graded"
    UNGRADABLE = "could not be graded"


@dataclass
class PartResult:
    grade_id: str
    max_points: float
    points: float | None
    status: str
    message: str = ""

    @property
    def grader_error(self) -> bool:
        return self.status == PartStatus.NOT_GRADED and self.message.startswith(GRADER_ERROR)


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str
    reason: str = ""
    parts: list[PartResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    cell_notes: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    code: dict[str, str] = field(default_factory=dict)
    # who submitted, as the source names them (see autograder.inputs), and what was graded
    name: str = ""
    lms: str = ""
    lms_id: str = ""
    late: bool = False
    digest: str = ""

    @property
    def points(self) -> float:
        return sum(p.points or 0.0 for p in self.parts)

    @property
    def max_points(self) -> float:
        return sum(p.max_points for p in self.parts)

    @property
    def grader_error(self) -> bool:
        return self.reason.startswith(GRADER_ERROR) or any(p.grader_error for p in self.parts)

    @property
    def complete(self) -> bool:
        """Every question has points (so a total can be reported)."""
        return all(p.points is not None for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known},
                      "parts": [PartResult(**p) for p in data["parts"]]})
