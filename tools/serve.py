"""Serve a segmentation model over HTTP, with a page to try it on.

    python tools/serve.py configs/fcn/fcn_r18-d8_demo.py \
        work_dirs/fcn_r18-d8_demo/iter_2000.pth --host 127.0.0.1 --port 8000

CHECKPOINT is a ``.pth`` checkpoint or an exported ``.onnx`` file (float32 from
``tools/deployment/pytorch2onnx.py`` or int8 from ``quantize.py``, run by ONNX Runtime);
without it the model keeps random weights. Endpoints: ``POST /predict``, ``GET /`` (the
page), ``GET /healthz``, ``GET /metrics`` (docs/deploy.md, "Serve"). ``--port 0`` takes a
free port; the line ``serving on http://HOST:PORT`` says which.
"""
import argparse
import logging
import socket
import sys

from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Serve a fcn_mm model over HTTP (POST /predict, GET / for a page)')
    parser.add_argument('model', metavar='MODEL', help='the model config file')
    parser.add_argument('checkpoint', metavar='CHECKPOINT', nargs='?', default=None,
                        help='a .pth checkpoint or an exported .onnx file (float32 or '
                        'int8, run by ONNX Runtime); none: random weights')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default: loopback only)')
    parser.add_argument('--port', type=int, default=8000, help='port (0: a free one)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:0')
    parser.add_argument('--max-batch', type=int, default=8,
                        help='most same-size images in one inference batch')
    parser.add_argument('--max-wait-ms', type=float, default=5.0,
                        help='how long a batch waits for more images of its size')
    parser.add_argument('--queue-size', type=int, default=64,
                        help='most images waiting; beyond it, 503 with Retry-After')
    parser.add_argument('--workers', type=int, default=1, help='inference threads')
    parser.add_argument('--threads', type=int, default=None,
                        help='PyTorch / ONNX Runtime intra-op threads (default: as torch '
                        'sets them)')
    parser.add_argument('--max-pixels', type=int, default=16_000_000,
                        help='largest image accepted, width * height (413 beyond)')
    parser.add_argument('--max-body-bytes', type=int, default=20 * 1024 * 1024,
                        help='largest request body (413 beyond)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='default opacity of format=overlay, in [0, 1]')
    parser.add_argument('--log-level', default='info',
                        choices=['critical', 'error', 'warning', 'info', 'debug'])
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config entries, key=value')
    args = parser.parse_args(argv)
    if str(args.model).endswith('.onnx'):
        parser.error(f'MODEL is the config: give `{args.model}` as CHECKPOINT, after the '
                     'config it was exported from')
    for name in ('max_batch', 'queue_size', 'workers', 'max_pixels', 'max_body_bytes'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {getattr(args, name)}')
    if args.max_wait_ms < 0:
        parser.error(f'--max-wait-ms must be >= 0, got {args.max_wait_ms}')
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch
    import uvicorn

    from fcn_mm.apis.serving import SegmentationRunner
    from fcn_mm.apis.serving.app import ServeSettings, build_app

    logging.basicConfig(level=args.log_level.upper(), format='%(levelname)s %(message)s')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    runner = SegmentationRunner(args.model, args.checkpoint, device=args.device,
                                cfg_options=args.cfg_options)
    settings = ServeSettings(max_pixels=args.max_pixels, max_body_bytes=args.max_body_bytes,
                             max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                             queue_size=args.queue_size, workers=args.workers,
                             opacity=args.opacity)
    app = build_app(runner, settings)
    family = socket.AF_INET6 if ':' in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    host, port = sock.getsockname()[:2]
    print(f'serving on http://{host}:{port} ({runner.info["model"]}, '
          f'{runner.info["backend"]}, {runner.info["precision"]})', flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level,
                                           access_log=args.log_level == 'debug'))
    server.run(sockets=[sock])


if __name__ == '__main__':
    sys.exit(main())
