"""Install fcn_mm: ``pip install -e .`` (add ``[tests]`` for the test suite, ``[tensorboard]``
for ``TensorboardVisBackend``, ``[deploy]`` for ONNX export and ONNX Runtime, ``[serve]``
for ``tools/serve.py``, ``[datasets]`` for the PASCAL Context converter).

Every dependency is a pure-Python or prebuilt wheel: nothing is compiled. ``mmcv-lite``
provides ``import mmcv`` without compiled ops (FCN needs none).
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'fcn_mm', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


INSTALL_REQUIRES = [
    'torch>=2.6',  # weights_only=True loading with add_safe_globals
    'torchvision',
    'mmengine>=0.10.7,<1.0',
    'mmcv-lite>=2.1,<2.3',  # `import mmcv` without compiled ops; never the full mmcv
    'numpy',
    'opencv-python',
    'terminaltables',
    'Pillow',
    'scipy',
    'matplotlib',
]
# TensorboardVisBackend (visualizer.vis_backends) writes event files with it
TENSORBOARD_REQUIRE = ['tensorboard']
# import-linter checks the import rules of .importlinter (tests/test_import_contracts.py);
# the tests read TensorBoard event files back
# the PASCAL Context converter decodes the COCO run-length encoded masks of
# trainval_merged.json (tools/dataset_converters/pascal_context.py)
DATASETS_REQUIRE = ['pycocotools']
# ONNX export (torch.onnx's dynamo exporter needs onnxscript) and ONNX Runtime
DEPLOY_REQUIRE = ['onnx>=1.16', 'onnxruntime>=1.17', 'onnxscript>=0.3']
# tools/serve.py: an ASGI app (Starlette) on uvicorn; python-multipart parses form uploads
SERVE_REQUIRE = ['starlette>=0.40', 'uvicorn>=0.30', 'python-multipart>=0.0.18']
# the deploy tests export and run ONNX files; the serving tests run the service and drive
# the system's Chromium (/usr/bin/chromium, installed by .ci/run) with Playwright
TESTS_REQUIRE = (['pytest', 'pytest-timeout', 'pytest-xdist', 'import-linter'] + TENSORBOARD_REQUIRE
                 + DEPLOY_REQUIRE + SERVE_REQUIRE + ['playwright'] + DATASETS_REQUIRE)

setup(
    name='fcn_mm',
    version=read_version(),
    description='MMSegmentation-style semantic segmentation (FCN) on current PyTorch',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['fcn_mm', 'fcn_mm.*']),
    python_requires='>=3.11,<3.14',  # CI: the suite on 3.11, a fast tier on 3.13 (.ci/run)
    install_requires=INSTALL_REQUIRES,
    extras_require={'tests': TESTS_REQUIRE, 'tensorboard': TENSORBOARD_REQUIRE,
                    'deploy': DEPLOY_REQUIRE, 'serve': SERVE_REQUIRE,
                    'datasets': DATASETS_REQUIRE},
    # the page of tools/serve.py
    package_data={'fcn_mm.apis.serving': ['static/*.html', 'static/*.js', 'static/*.css']},
    license='Apache-2.0',
    zip_safe=False,
)
