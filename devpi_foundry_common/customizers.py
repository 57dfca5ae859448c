"""Mixing a plugin's behaviour into every devpi index type's stage customizer.

devpi applies only the queried index's customizer and refuses a second customizer for a
built-in type, so a plugin that validates index options or filters listings on *every*
index type wraps the results of ``devpiserver_get_stage_customizer_classes`` (a pluggy
``wrapper=True`` hook): each ``(index_type, customizer)`` pair gets the mixin in front.
Several plugins may each wrap; the mixins then stack. Nothing here imports devpi: the
caller passes devpi's ``BaseStageCustomizer``.

devpi calls the hook on every stage instantiation (at least once per index request), so the
wrapped list is memoised per distinct hook result. A wrapper around another plugin's
wrapper receives that plugin's memoised list, the same object each time: it is recognised
by identity before anything is hashed.
"""

from __future__ import annotations

Results = list[list[tuple[str, type]]]
_ResultsKey = tuple[tuple[tuple[str, type], ...], ...]
#: Distinct hook results remembered; only plugin (un)registration changes them.
_MAX_REMEMBERED = 32


class CustomizerWrapper:
    """Puts ``mixin`` in front of customizer classes (one subclass per class, cached)."""

    def __init__(self, mixin: type, base: type, prefix: str) -> None:
        self.mixin, self.base, self.prefix = mixin, base, prefix
        self._wrapped: dict[type, type] = {}
        self._results: dict[_ResultsKey, Results] = {}
        #: the last (given, wrapped) pair, replaced as one tuple (thread-safe)
        self._last: tuple[Results, Results] | None = None

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
        """Every plugin's ``(index_type, customizer)`` pairs, each customizer wrapped.

        Equal results give the same (memoised) list, which callers must not change; devpi
        only reads it.

        >>> class Base: pass
        >>> class Mixin: pass
        >>> class Plugin: pass
        >>> wrapper = CustomizerWrapper(Mixin, Base, "Demo")
        >>> wrapped = wrapper.wrap_results([[("demo", Plugin)]])
        >>> [[(t, cls.__name__) for t, cls in result] for result in wrapped]
        [[('demo', 'DemoPlugin')]]
        >>> wrapper.wrap_results([[("demo", Plugin)]]) is wrapped
        True
        """
        last = self._last
        if last is not None and last[0] is results:
            return last[1]
        try:
            key = tuple(map(tuple, results))
            wrapped = self._results.get(key)
        except TypeError:  # an unhashable pair (a plugin returned lists): wrap, don't memoise
            return self._wrap_all(results)
        if wrapped is None:
            wrapped = self._wrap_all(results)
            if len(self._results) >= _MAX_REMEMBERED:
                self._results.clear()  # tests register many plugins; a server a few
            self._results[key] = wrapped
        # keeping ``results`` alive here keeps its identity from being reused by another list
        self._last = (results, wrapped)
        return wrapped

    def _wrap_all(self, results: Results) -> Results:
        return [[(index_type, self.wrap(cls)) for index_type, cls in r] for r in results]
