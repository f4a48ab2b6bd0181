"""What the label check reports: findings, the report of one check, and its exception."""
from dataclasses import dataclass, field
from typing import List

__all__ = ['ERROR', 'WARNING', 'LabelFinding', 'LabelCheckReport', 'LabelCheckError']

ERROR = 'error'  # the metric (or training) would be meaningless: stop
WARNING = 'warning'  # probably wrong; training goes on


@dataclass(frozen=True)
class LabelFinding:
    """One problem found in the masks (or the config) of one dataset.

    Args:
        kind (str): a short name of the rule, e.g. ``'rgb_mask'``.
        severity (str): :data:`ERROR` or :data:`WARNING`.
        dataset (str): which dataset, e.g. ``'train_dataloader.dataset'``.
        problem (str): what is wrong, in one line.
        found (str): the files and the values found.
        fix (str): what to change.
    """

    kind: str
    severity: str
    dataset: str
    problem: str
    found: str
    fix: str

    def __str__(self) -> str:
        return (f'[{self.severity}] {self.dataset}: {self.problem}\n'
                f'    found: {self.found}\n    fix: {self.fix}')


@dataclass
class LabelCheckReport:
    """The findings of a check and how many masks each dataset had checked.

    Args:
        findings (list[LabelFinding]): in rule order.
        checked (dict[str, tuple[int, int]]): dataset -> (masks checked, samples).
    """

    findings: List[LabelFinding] = field(default_factory=list)
    checked: dict = field(default_factory=dict)

    @property
    def errors(self) -> List[LabelFinding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> List[LabelFinding]:
        return [f for f in self.findings if f.severity == WARNING]

    def merge(self, other: 'LabelCheckReport') -> 'LabelCheckReport':
        self.findings.extend(other.findings)
        self.checked.update(other.checked)
        return self

    def summary(self) -> str:
        """One line per dataset: masks checked, errors and warnings."""
        lines = []
        for name, (num_checked, total) in self.checked.items():
            errors = sum(f.dataset == name for f in self.errors)
            warnings = sum(f.dataset == name for f in self.warnings)
            lines.append(f'{name}: {num_checked} of {total} masks checked, '
                         f'{errors} error(s), {warnings} warning(s)')
        return '\n'.join(lines)


class LabelCheckError(ValueError):
    """Masks (or a config) that would make training or the metric meaningless.

    Args:
        report (LabelCheckReport): the findings; the message lists every one.
    """

    def __init__(self, report: LabelCheckReport) -> None:
        self.report = report
        body = '\n'.join(str(f) for f in report.findings)
        super().__init__(
            f'Label check: {len(report.errors)} problem(s) that make training or the '
            f'metric meaningless, {len(report.warnings)} warning(s):\n{body}\n'
            'Fix the data or the config (docs/dataset_prepare.md, "Checking the labels"); '
            'label_check = dict(enabled=False) in the config skips this check.')
