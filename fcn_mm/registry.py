"""All registries of fcn_mm: children of mmengine's root registries, scope ``fcn_mm``.

Each child lists the ``locations`` to import lazily, so building a component from a
config imports the module that registers it; users never import fcn_mm modules by hand.
This module imports nothing of fcn_mm (it is the ground floor of the import graph).
"""
import mmengine.registry as root
from mmengine.registry import Registry

SCOPE = 'fcn_mm'


def _child(name: str, parent: Registry, locations: list) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=locations)


ENGINE = ['fcn_mm.engine']

RUNNERS = _child('runner', root.RUNNERS, ENGINE)
RUNNER_CONSTRUCTORS = _child('runner constructor', root.RUNNER_CONSTRUCTORS, ENGINE)
LOOPS = _child('loop', root.LOOPS, ENGINE)
HOOKS = _child('hook', root.HOOKS, ENGINE)
DATA_SAMPLERS = _child('data sampler', root.DATA_SAMPLERS, ENGINE)
OPTIMIZERS = _child('optimizer', root.OPTIMIZERS, ENGINE)
OPTIM_WRAPPERS = _child('optim_wrapper', root.OPTIM_WRAPPERS, ENGINE)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    root.OPTIM_WRAPPER_CONSTRUCTORS, ENGINE)
PARAM_SCHEDULERS = _child('parameter scheduler', root.PARAM_SCHEDULERS, ENGINE)
LOG_PROCESSORS = _child('log_processor', root.LOG_PROCESSORS, ENGINE)
MODEL_WRAPPERS = _child('model_wrapper', root.MODEL_WRAPPERS, ENGINE)
FUNCTIONS = _child('function', root.FUNCTIONS, ENGINE)
STRATEGIES = _child('strategy', root.STRATEGIES, ENGINE)
INFERENCERS = _child('inferencer', root.INFERENCERS, ['fcn_mm.apis'])

MODELS = _child('model', root.MODELS, ['fcn_mm.models', 'fcn_mm.deploy'])
WEIGHT_INITIALIZERS = _child('weight initializer', root.WEIGHT_INITIALIZERS,
                             ['fcn_mm.models'])
TASK_UTILS = _child('task util', root.TASK_UTILS, ['fcn_mm.models'])

DATASETS = _child('dataset', root.DATASETS, ['fcn_mm.datasets'])
TRANSFORMS = _child('transform', root.TRANSFORMS, ['fcn_mm.datasets'])

METRICS = _child('metric', root.METRICS, ['fcn_mm.evaluation'])
EVALUATOR = _child('evaluator', root.EVALUATOR, ['fcn_mm.evaluation'])

VISUALIZERS = _child('visualizer', root.VISUALIZERS, ['fcn_mm.visualization'])
VISBACKENDS = _child('vis_backend', root.VISBACKENDS, ['fcn_mm.visualization'])

# name -> registry, e.g. 'MODELS' -> MODELS (the children above, in this order)
ALL_REGISTRIES = {name: value for name, value in dict(globals()).items()
                  if isinstance(value, Registry) and value.scope == SCOPE}
