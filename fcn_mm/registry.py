"""All registries of fcn_mm: children of mmengine's root registries, scope ``fcn_mm``.

Each child lists the ``locations`` to import lazily, so building a component from a
config imports the module that registers it; users never import fcn_mm modules by hand.
This module imports nothing of fcn_mm (it is the ground floor of the import graph).
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'fcn_mm'


def _child(name: str, parent: Registry, locations: list) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=locations)


ENGINE = ['fcn_mm.engine']

RUNNERS = _child('runner', MMENGINE_RUNNERS, ENGINE)
RUNNER_CONSTRUCTORS = _child('runner constructor', MMENGINE_RUNNER_CONSTRUCTORS, ENGINE)
LOOPS = _child('loop', MMENGINE_LOOPS, ENGINE)
HOOKS = _child('hook', MMENGINE_HOOKS, ENGINE)
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, ENGINE)
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, ENGINE)
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, ENGINE)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, ENGINE)
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, ENGINE)
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS, ENGINE)
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, ENGINE)
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, ENGINE)
STRATEGIES = _child('strategy', MMENGINE_STRATEGIES, ENGINE)
INFERENCERS = _child('inferencer', MMENGINE_INFERENCERS, ['fcn_mm.apis'])

MODELS = _child('model', MMENGINE_MODELS, ['fcn_mm.models', 'fcn_mm.deploy'])
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS,
                             ['fcn_mm.models'])
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, ['fcn_mm.models'])

DATASETS = _child('dataset', MMENGINE_DATASETS, ['fcn_mm.datasets'])
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, ['fcn_mm.datasets'])

METRICS = _child('metric', MMENGINE_METRICS, ['fcn_mm.evaluation'])
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, ['fcn_mm.evaluation'])

VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, ['fcn_mm.visualization'])
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, ['fcn_mm.visualization'])

ALL_REGISTRIES = {
    'RUNNERS': RUNNERS, 'RUNNER_CONSTRUCTORS': RUNNER_CONSTRUCTORS, 'LOOPS': LOOPS,
    'HOOKS': HOOKS, 'DATA_SAMPLERS': DATA_SAMPLERS, 'OPTIMIZERS': OPTIMIZERS,
    'OPTIM_WRAPPERS': OPTIM_WRAPPERS,
    'OPTIM_WRAPPER_CONSTRUCTORS': OPTIM_WRAPPER_CONSTRUCTORS,
    'PARAM_SCHEDULERS': PARAM_SCHEDULERS, 'LOG_PROCESSORS': LOG_PROCESSORS,
    'MODEL_WRAPPERS': MODEL_WRAPPERS, 'FUNCTIONS': FUNCTIONS, 'STRATEGIES': STRATEGIES,
    'INFERENCERS': INFERENCERS,
    'MODELS': MODELS, 'WEIGHT_INITIALIZERS': WEIGHT_INITIALIZERS,
    'TASK_UTILS': TASK_UTILS, 'DATASETS': DATASETS, 'TRANSFORMS': TRANSFORMS,
    'METRICS': METRICS, 'EVALUATOR': EVALUATOR, 'VISUALIZERS': VISUALIZERS,
    'VISBACKENDS': VISBACKENDS,
}
