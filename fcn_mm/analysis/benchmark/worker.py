"""Subprocess entry point: ``python -m fcn_mm.analysis.benchmark.worker SPEC.json OUT.json``.

Runs :func:`fcn_mm.analysis.benchmark.measure.run_mode` on the spec (or
:func:`~fcn_mm.analysis.benchmark.ort_measure.run_ort_mode` when its ``backend`` is
``'onnxruntime'``, :func:`~fcn_mm.analysis.benchmark.openvino_measure.run_openvino_mode`
when it is ``'openvino'``, or the export of ``benchmark.py --backend onnxruntime`` when its ``mode``
is ``'export'``) and writes its result as JSON, so each benchmark mode has a process
(and a peak RSS) of its own.
"""
import json
import sys
from typing import List, Optional

__all__ = ['main']


def main(argv: Optional[List[str]] = None) -> None:
    """Read the spec file, measure, write the result file."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit('usage: python -m fcn_mm.analysis.benchmark.worker SPEC.json OUT.json')
    with open(argv[0], encoding='utf-8') as f:
        spec = json.load(f)
    if spec.get('mode') == 'export':
        from fcn_mm.analysis.benchmark.backends import export_for_benchmark
        result = dict(files=export_for_benchmark(**spec['args']))
    elif spec.get('backend') == 'openvino':
        from fcn_mm.analysis.benchmark.openvino_measure import run_openvino_mode
        result = run_openvino_mode(spec)
    elif spec.get('backend') == 'onnxruntime':
        from fcn_mm.analysis.benchmark.ort_measure import run_ort_mode
        result = run_ort_mode(spec)
    else:
        from fcn_mm.analysis.benchmark.measure import run_mode
        result = run_mode(spec)
    with open(argv[1], 'w', encoding='utf-8') as f:
        json.dump(result, f)


if __name__ == '__main__':
    main()
