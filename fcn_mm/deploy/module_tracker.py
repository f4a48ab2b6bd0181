"""Which submodule is running: names the module an export failure comes from."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

from torch import nn

__all__ = ['ModuleTracker', 'describe_module']


def describe_module(root: nn.Module, name: str) -> str:
    """``'backbone.layer1.0 (BasicBlock)'`` for a submodule name of ``root``."""
    module = root.get_submodule(name) if name else root
    return f'{name or "<the whole model>"} ({type(module).__name__})'


class ModuleTracker:
    """Keeps the stack of modules whose ``forward`` is running.

    Forward pre-hooks push a module's name, forward hooks pop it. When an exception
    leaves a forward, the stack is left as it was at that moment, so
    :attr:`innermost` is the module that raised.

    Args:
        root (nn.Module): the module whose submodules are tracked.
    """

    def __init__(self, root: nn.Module):
        self.root = root
        self.stack: List[str] = []
        self.failed: Optional[str] = None

    @contextmanager
    def track(self) -> Iterator['ModuleTracker']:
        """Install the hooks for the duration of the block; keep the failing module."""
        self.stack, self.failed = [], None
        handles = []
        for name, module in self.root.named_modules():
            handles.append(module.register_forward_pre_hook(self._enter(name)))
            handles.append(module.register_forward_hook(self._leave, always_call=False))
        try:
            yield self
        except BaseException:
            self.failed = self.stack[-1] if self.stack else None
            raise
        finally:
            for handle in handles:
                handle.remove()

    def _enter(self, name: str):
        def hook(module: nn.Module, args: Tuple) -> None:
            self.stack.append(name)
        return hook

    def _leave(self, module: nn.Module, args: Tuple, output) -> None:
        self.stack.pop()
        return None
