"""Read mmengine's JSON scalar logs and plot training curves (loss, mIoU, ...).

mmengine's ``LocalVisBackend`` writes one JSON object per line to
``<work_dir>/<timestamp>/vis_data/scalars.json``: training lines carry ``loss``, ``lr``
and the loss terms with ``iter``/``step``; validation lines carry ``aAcc``, ``mIoU``, ...
with ``step``.
"""
import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['ScalarLog', 'find_scalar_logs', 'find_scalar_log', 'load_scalar_log',
           'plot_curves']

VAL_KEYS = ('aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore', 'mPrecision', 'mRecall')


@dataclass
class ScalarLog:
    """The scalars of one run.

    Attributes:
        path (str): the (newest) JSON file read.
        train (dict): key -> list of (step, value) from training lines.
        val (dict): key -> list of (step, value) from validation lines.
        sources (list[str]): every JSON file that contributed, oldest first.
    """
    path: str
    train: Dict[str, List[tuple]] = field(default_factory=dict)
    val: Dict[str, List[tuple]] = field(default_factory=dict)
    sources: List[str] = field(default_factory=list)

    def series(self, key: str) -> List[tuple]:
        """(step, value) pairs of ``key`` from validation lines first, else training."""
        return self.val.get(key) or self.train.get(key) or []


def find_scalar_logs(path: str) -> List[str]:
    """Return the scalar JSON files of a run, oldest first.

    Args:
        path (str): a ``scalars.json`` file, a run folder (``<work_dir>/<timestamp>``)
            or a work dir. For a work dir, the newest run that logged scalars is taken,
            preceded by the earlier runs of that work dir it may continue (a resumed
            run); :func:`load_scalar_log` splices them by iteration.

    Returns:
        list[str]: one or more ``scalars.json`` paths, oldest first.

    Raises:
        FileNotFoundError: nothing matching, naming the folder and what was looked for.
    """
    if osp.isfile(path):
        return [path]
    run_log = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(run_log):
        return [run_log]
    found = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if found:
        return found
    raise FileNotFoundError(
        f'No training log under "{path}": expected a scalars.json file, or a work dir '
        'holding <timestamp>/vis_data/scalars.json (written by mmengine\'s '
        'LocalVisBackend during tools/train.py).')


def find_scalar_log(path: str) -> str:
    """The newest scalar JSON of ``path`` (see :func:`find_scalar_logs`)."""
    return find_scalar_logs(path)[-1]


def _read_records(log_file: str) -> List[dict]:
    """The JSON objects of a scalar log, one per non-empty line."""
    records = []
    with open(log_file, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f'{log_file}:{line_no} is not valid JSON: {e}') from e
    return records


def _step(record: dict) -> Optional[float]:
    return record.get('step', record.get('iter'))


def _splice(runs: List[List[dict]]) -> Tuple[List[dict], int]:
    """Join runs (oldest first) that continue each other.

    Going back from the newest run, an earlier run contributes its records logged
    before the first step of the later ones (a run resumed from iteration k logs
    from k + 1 on); a run that starts again at iteration 1 hides every earlier one.

    Returns:
        tuple: (the joined records, index of the oldest run that contributed).
    """
    records, start = list(runs[-1]), len(runs) - 1
    for index in range(len(runs) - 2, -1, -1):
        steps = [s for s in map(_step, records) if s is not None]
        first = min(steps) if steps else float('inf')
        kept = [r for r in runs[index] if _step(r) is not None and _step(r) < first]
        if not kept:
            break
        records, start = kept + records, index
    return records, start


def load_scalar_log(path: str) -> ScalarLog:
    """Parse the scalar JSON log(s) of ``path`` into a :class:`ScalarLog`.

    Args:
        path (str): see :func:`find_scalar_logs`; for a work dir, the newest run is
            spliced with the earlier runs it resumed from.

    Returns:
        ScalarLog: ``path`` is the newest JSON file, ``sources`` every file used.
    """
    log_files = find_scalar_logs(path)
    runs = [_read_records(f) for f in log_files]
    records, start = _splice(runs)
    log = ScalarLog(path=log_files[-1], sources=log_files[start:])
    for record in records:
        step = _step(record)
        target = log.val if any(k in record for k in VAL_KEYS) else log.train
        for key, value in record.items():
            if key in ('step', 'iter', 'epoch') or not isinstance(value, (int, float)):
                continue
            target.setdefault(key, []).append((step, float(value)))
    return log


def plot_curves(logs: Sequence[ScalarLog], keys: Sequence[str], out_file: str,
                legends: Optional[Sequence[str]] = None, title: str = '',
                size: tuple = (6.4, 4.0), dpi: int = 100) -> str:
    """Plot ``keys`` of each run, one panel per key, and save a PNG.

    Args:
        logs (list[ScalarLog]): runs to compare.
        keys (list[str]): scalar names, e.g. ``['loss', 'mIoU']``.
        out_file (str): PNG path.
        legends (list[str], optional): one label per run (default: the log paths).
        title (str): figure title.
        size (tuple): (width, height) in inches of one panel.
        dpi (int): dots per inch; the PNG is ``size * dpi`` pixels per panel.

    Returns:
        str: ``out_file``.

    Raises:
        KeyError: a key found in none of the runs (names the keys that exist).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legends = list(legends) if legends else [log.path for log in logs]
    if len(legends) != len(logs):
        raise ValueError(f'{len(legends)} legends given for {len(logs)} logs')
    for key in keys:
        if not any(log.series(key) for log in logs):
            known = sorted({k for log in logs for k in (*log.train, *log.val)})
            raise KeyError(f'"{key}" is in none of the logs; logged keys: {known}')
    fig, axes = plt.subplots(len(keys), 1, figsize=(size[0], size[1] * len(keys)),
                             dpi=dpi, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for log, label in zip(logs, legends):
            points = log.series(key)
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker='o' if len(points) < 30 else None,
                        label=label)
        ax.set_xlabel('iteration')
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file
