import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmmtl module so that all of them are registered.

    Args:
        init_default_scope: Whether to set the default scope to ``'mmmtl'``,
            so that configs without ``default_scope`` find our modules first.
    """
    import mmseg.visualization  # noqa: F401  (mmseg's own function skips it)
    from mmseg.utils import register_all_modules as register_mmseg

    import mmmtl.datasets  # noqa: F401,F403
    import mmmtl.engine  # noqa: F401,F403
    import mmmtl.evaluation  # noqa: F401,F403
    import mmmtl.models  # noqa: F401,F403
    import mmmtl.structures  # noqa: F401,F403
    import mmmtl.visualization  # noqa: F401,F403
    register_mmseg(init_default_scope=False)

    if not init_default_scope:
        return
    never_created = (DefaultScope.get_current_instance() is None
                     or not DefaultScope.check_instance_created('mmmtl'))
    if never_created:
        DefaultScope.get_instance('mmmtl', scope_name='mmmtl')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mmmtl':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mmmtl", '
                      '`register_all_modules` will force the current '
                      'default scope to be "mmmtl".')
        new_instance_name = f'mmmtl-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmmtl')
