"""Top-level config keys: those the Runner and fcn_mm read, and misspellings of them.

A config's top level mixes keys that something reads (``train_cfg``, ``val_evaluator``
...) with the config's own variables (``crop_size``, ``norm_cfg``, ``data_root``,
``dataset_type``, ``train_pipeline`` ...), which nothing reads directly. A misspelt key
(``trian_cfg``) is silently ignored by mmengine, so :func:`check_top_level_keys` flags a
name that is not itself a known key but is within a small edit distance of one (one edit
for names of 5 to 8 characters, two for longer ones; a swap of neighbours is one edit).
Variables further from every key, names of up to 4 characters (``seed``, ``data``: too
short to tell a typo from a word) and names starting with ``_`` pass.
"""
from typing import Iterable, Optional, Tuple

__all__ = ['RUNNER_KEYS', 'FCN_MM_KEYS', 'KNOWN_KEYS', 'MisspeltConfigKeyError',
           'closest_known_key', 'check_top_level_keys']

# What mmengine's Runner (from_cfg and the Runner itself) and mmengine's Config read.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'compile', 'find_unused_parameters',
    'sync_bn', 'model_wrapper_cfg', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'custom_imports'})
# What fcn_mm's tools and APIs read besides (runner_type: tools/train.py and test.py).
FCN_MM_KEYS = frozenset({'runner_type', 'speed', 'demo_data', 'tta_model', 'tta_pipeline',
                         'test_pipeline', 'label_check'})
KNOWN_KEYS = RUNNER_KEYS | FCN_MM_KEYS


class MisspeltConfigKeyError(KeyError):
    """A top-level config key that nothing reads, close to one that is read."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbours counts as one edit."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def closest_known_key(key: str, known: Iterable[str] = KNOWN_KEYS
                      ) -> Optional[Tuple[str, int]]:
    """The known key a name is probably a misspelling of, with the edit distance.

    Args:
        key (str): a top-level name of a config.
        known (Iterable[str]): the keys something reads. Defaults to :data:`KNOWN_KEYS`.

    Returns:
        tuple[str, int] | None: ``(closest key, distance)``, or None when ``key`` is
        known, starts with ``_``, has at most 4 characters, or is further than the
        allowed distance from all keys.
    """
    known = sorted(known)
    if key in known or key.startswith('_') or len(key) <= 4:
        return None
    limit = 1 if len(key) <= 8 else 2
    distance, best = min((_edit_distance(key, k), k) for k in known)
    return (best, distance) if distance <= limit else None


def check_top_level_keys(cfg) -> None:
    """Raise :class:`MisspeltConfigKeyError` for a misspelt top-level key.

    Args:
        cfg (Config | dict): the merged config.

    Raises:
        MisspeltConfigKeyError: names the key and the closest known key.
    """
    for key in cfg.keys():
        found = closest_known_key(str(key))
        if found is None:
            continue
        best = found[0]
        raise MisspeltConfigKeyError(
            f'Top-level config key {key!r} is read by nothing (the Runner and fcn_mm would '
            f'silently ignore it). Did you mean {best!r}? If {key!r} is a variable of the '
            "config, give it a name further from the Runner's keys or start it with '_'.")
