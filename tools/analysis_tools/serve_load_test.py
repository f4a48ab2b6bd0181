"""Load-test tools/serve.py: concurrent clients on loopback, dynamic batching against
``--max-batch 1`` in one run.

    python tools/analysis_tools/serve_load_test.py configs/fcn/fcn_r18-d8_demo.py \
        --clients 16 --duration 30 --max-batch 1 8 --threads 2

For each ``--max-batch`` value (and each ``--workers`` value) it starts ``tools/serve.py`` on a free loopback port,
warms it up, runs the clients for ``--duration`` seconds (``POST /predict?format=png``,
images of one size, every answer compared with ``inference_model`` on the same image),
reads the mean batch size from ``/metrics`` and stops the server. Without CHECKPOINT the
model gets random weights with BN statistics of random images (their label maps vary, so
the comparison checks something). Prints one table row per setting (requests, 200s,
503s, errors, wrong answers, p50/p99 latency, throughput). A label may differ from
``inference_model``'s only where its best two logits are within 1e-4 (a batch runs other
convolution kernels, whose float32 sums differ by about 1e-6); those pixels are counted. and writes them to ``--out``
(JSON). Exits 1 if an answer was wrong or failed with a status other than 503.
"""
import argparse
import io
import itertools
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

HERE = osp.dirname(osp.abspath(__file__))
SERVE = osp.join(osp.dirname(HERE), 'serve.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Load-test tools/serve.py on loopback')
    parser.add_argument('config', help='the model config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='.pth or .onnx (default: random weights, BN statistics of '
                        'random images)')
    parser.add_argument('--clients', type=int, default=16, help='concurrent clients')
    parser.add_argument('--duration', type=float, default=30.0,
                        help='seconds of load per setting')
    parser.add_argument('--max-requests', type=int, default=200_000,
                        help='a bound on the requests per setting')
    parser.add_argument('--max-batch', type=int, nargs='+', default=[1, 8],
                        help='the settings to compare, in one run')
    parser.add_argument('--max-wait-ms', type=float, default=5.0)
    parser.add_argument('--queue-size', type=int, default=64)
    parser.add_argument('--workers', type=int, nargs='+', default=[1],
                        help='inference threads; several values: each with every '
                        '--max-batch')
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op threads of the server (tools/serve.py --threads)')
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128],
                        metavar=('H', 'W'), help='image size (the demo data: 128 128)')
    parser.add_argument('--images', type=int, default=8, help='distinct images sent')
    parser.add_argument('--warmup', type=int, default=8, help='requests before timing')
    parser.add_argument('--out', default=None, help='write the results here (JSON)')
    args = parser.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.images < 1:
        parser.error('--clients and --images must be >= 1 and --duration > 0')
    return args


def _start_server(args, checkpoint, max_batch, workers):
    command = [sys.executable, SERVE, args.config, checkpoint, '--port', '0',
               '--max-batch', str(max_batch), '--max-wait-ms', str(args.max_wait_ms),
               '--queue-size', str(args.queue_size), '--workers', str(workers),
               '--log-level', 'warning']
    if args.threads is not None:
        command += ['--threads', str(args.threads)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith('serving on '):
            return proc, line.split()[2]
    proc.wait()
    raise RuntimeError('tools/serve.py did not start:\n' + ''.join(lines))


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch
    from PIL import Image

    from fcn_mm.apis import inference_model, init_model
    from fcn_mm.apis.serving.load import (near_ties, random_weights_checkpoint, run_load,
                                          scrape_metric, smooth_random_image)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or random_weights_checkpoint(
            args.config, osp.join(scratch, 'random_bn.pth'), image_size=min(args.size))
        model = init_model(args.config, checkpoint)
        height, width = args.size
        images = [smooth_random_image(height, width, seed=100 + i) for i in range(args.images)]
        samples = [inference_model(model, image) for image in images]
        expected = [s.pred_sem_seg.data[0].numpy() for s in samples]
        ambiguous = [near_ties(s.seg_logits.data.numpy()) for s in samples]
        bodies = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])).save(buffer, 'PNG')
            bodies.append(buffer.getvalue())
        classes_per_image = float(np.mean([len(np.unique(e)) for e in expected]))
        del model
        rows = []
        for workers, max_batch in itertools.product(args.workers, args.max_batch):
            proc, url = _start_server(args, checkpoint, max_batch, workers)
            try:
                run_load(url, bodies, expected, ambiguous, clients=min(args.clients, 4),
                         duration_s=60, max_requests=args.warmup)
                batches0 = scrape_metric(url, 'fcn_mm_serve_batch_size_count')
                images0 = scrape_metric(url, 'fcn_mm_serve_batch_size_sum')
                result = run_load(url, bodies, expected, ambiguous, clients=args.clients,
                                  duration_s=args.duration, max_requests=args.max_requests)
                batches = scrape_metric(url, 'fcn_mm_serve_batch_size_count') - batches0
                result['mean_batch'] = ((scrape_metric(url, 'fcn_mm_serve_batch_size_sum')
                                         - images0) / batches) if batches else 0.0
            finally:
                proc.terminate()
                proc.wait(30)
            result.update(max_batch=max_batch, workers=workers, clients=args.clients,
                          threads=args.threads, size=[height, width],
                          classes_per_image=classes_per_image)
            rows.append(result)
            print(f'--workers {workers} --max-batch {max_batch}: {result["requests"]} requests, {result["ok"]} ok, '
                  f'{result["busy_503"]} busy (503), {result["errors"]} errors, '
                  f'{result["wrong"]} wrong ({result["tie_flips"]} pixels flipped at near '
                  f'ties); p50 {result["p50_ms"]:.1f} ms, p99 '
                  f'{result["p99_ms"]:.1f} ms; {result["throughput"]:.1f} images/s; mean '
                  f'batch {result["mean_batch"]:.2f}', flush=True)
            for sample in result['error_samples']:
                print('  error:', sample)
    base = rows[0]['throughput']
    for row in rows[1:]:
        if base:
            print(f'throughput of --workers {row["workers"]} --max-batch {row["max_batch"]} / '
                  f'--workers {rows[0]["workers"]} --max-batch {rows[0]["max_batch"]}: '
                  f'{row["throughput"] / base:.2f}x')
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'(load average at the end: {load:.1f}, {os.cpu_count()} CPUs; '
          f'{time.strftime("%Y-%m-%d %H:%M:%S")})')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(results=rows, load_average=load, cpus=os.cpu_count()), f, indent=1)
    return 1 if any(r['wrong'] or r['errors'] for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
