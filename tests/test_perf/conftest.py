"""Fixtures of the perf tests: the tiny FCN config and a built model."""
import pytest
from perf_utils import TINY_CONFIG


@pytest.fixture(scope='session')
def tiny_config() -> str:
    """Path of a ResNetV1c-18 FCN at 1/16 width with 32x32 crops (BN, 21 classes)."""
    return TINY_CONFIG


@pytest.fixture
def tiny_model():
    """The tiny config's model, built offline, in eval mode."""
    from fcn_mm.engine.benchmark import build_bench_model, load_bench_config
    return build_bench_model(load_bench_config(TINY_CONFIG)).eval()
