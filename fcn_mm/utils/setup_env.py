"""Register every fcn_mm module and (optionally) make ``fcn_mm`` the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every fcn_mm package that registers components.

    Args:
        init_default_scope (bool): also make ``fcn_mm`` the current default scope, so
            that ``MODELS.build(...)`` outside a Runner looks in fcn_mm's registries.
    """
    import fcn_mm.datasets  # noqa: F401
    import fcn_mm.engine  # noqa: F401
    import fcn_mm.evaluation  # noqa: F401
    import fcn_mm.models  # noqa: F401
    import fcn_mm.structures  # noqa: F401
    import fcn_mm.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('fcn_mm'):
        DefaultScope.get_instance('fcn_mm', scope_name='fcn_mm')
    if current is not None and current.scope_name != 'fcn_mm':
        warnings.warn(f'The current default scope "{current.scope_name}" is not '
                      '"fcn_mm"; register_all_modules is switching to "fcn_mm".')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')
        DefaultScope.get_instance(f'fcn_mm-{stamp}', scope_name='fcn_mm')
