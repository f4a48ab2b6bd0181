"""Register every fcn_mm module and (optionally) make ``fcn_mm`` the default scope."""
import datetime
import warnings

from mmengine import DefaultScope

from fcn_mm.registry import ALL_REGISTRIES, SCOPE
from .checkpoint_schemes import install_checkpoint_schemes

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the ``locations`` of every fcn_mm registry and install the checkpoint schemes.

    Args:
        init_default_scope (bool): also make ``fcn_mm`` the current default scope, so
            that ``MODELS.build(...)`` outside a Runner looks in fcn_mm's registries.
    """
    for registry in ALL_REGISTRIES.values():
        registry.import_from_location()
    install_checkpoint_schemes()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created(SCOPE):
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
    if current is not None and current.scope_name != SCOPE:
        warnings.warn(f'The current default scope "{current.scope_name}" is not '
                      f'"{SCOPE}"; register_all_modules is switching to "{SCOPE}".')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')
        DefaultScope.get_instance(f'{SCOPE}-{stamp}', scope_name=SCOPE)
