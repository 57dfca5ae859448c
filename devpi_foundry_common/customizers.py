"""Mixing a plugin's behaviour into every devpi index type's stage customizer.

devpi applies only the queried index's customizer and refuses a second customizer for a
built-in type, so a plugin that validates index options or filters listings on *every*
index type wraps the results of ``devpiserver_get_stage_customizer_classes`` (a pluggy
``wrapper=True`` hook): each ``(index_type, customizer)`` pair gets the mixin in front.
Several plugins may each wrap; the mixins then stack. Nothing here imports devpi: the
caller passes devpi's ``BaseStageCustomizer``.
"""

from __future__ import annotations

Results = list[list[tuple[str, type]]]


class CustomizerWrapper:
    """Puts ``mixin`` in front of customizer classes (one subclass per class, cached)."""

    def __init__(self, mixin: type, base: type, prefix: str) -> None:
        self.mixin, self.base, self.prefix = mixin, base, prefix
        self._wrapped: dict[type, type] = {}

    def wrap(self, cls: type) -> type:
        """``cls`` with the mixin in front; ``base`` appended when ``cls`` lacks it.

        >>> class Base: pass
        >>> class Mixin: pass
        >>> class Plugin: pass
        >>> wrapper = CustomizerWrapper(Mixin, Base, "Demo")
        >>> wrapped = wrapper.wrap(Plugin)
        >>> wrapped.__name__, [c.__name__ for c in wrapped.__mro__[1:4]]
        ('DemoPlugin', ['Mixin', 'Plugin', 'Base'])
        >>> wrapper.wrap(Plugin) is wrapped, wrapper.wrap(wrapped) is wrapped
        (True, True)
        """
        if issubclass(cls, self.mixin):
            return cls
        wrapped = self._wrapped.get(cls)
        if wrapped is None:
            bases: tuple[type, ...] = (self.mixin, cls)
            if not issubclass(cls, self.base):
                bases += (self.base,)
            wrapped = type(f"{self.prefix}{cls.__name__}", bases, {})
            self._wrapped[cls] = wrapped
        return wrapped

    def wrap_results(self, results: Results) -> Results:
        """Every plugin's ``(index_type, customizer)`` pairs, each customizer wrapped."""
        return [[(index_type, self.wrap(cls)) for index_type, cls in result] for result in results]
