from __future__ import annotations

from devpi_foundry_common.customizers import CustomizerWrapper, Results


class Base:
    pass


class Mixin:
    pass


class Other:
    pass


class StageCustomizer(Base):
    pass


class MirrorCustomizer:
    pass


def make_wrapper() -> CustomizerWrapper:
    return CustomizerWrapper(Mixin, Base, "Demo")


def names(results: Results) -> list[list[tuple[str, str]]]:
    return [[(index_type, cls.__name__) for index_type, cls in r] for r in results]


def test_equal_results_give_the_same_memoised_list() -> None:
    wrapper = make_wrapper()
    first = wrapper.wrap_results([[("stage", StageCustomizer)], [("mirror", MirrorCustomizer)]])
    again = wrapper.wrap_results([[("stage", StageCustomizer)], [("mirror", MirrorCustomizer)]])
    assert again is first
    assert names(first) == [
        [("stage", "DemoStageCustomizer")],
        [("mirror", "DemoMirrorCustomizer")],
    ]
    assert first[0][0][1].__mro__[1:3] == (Mixin, StageCustomizer)


def test_changed_results_are_not_served_stale() -> None:
    wrapper = make_wrapper()
    first = wrapper.wrap_results([[("stage", StageCustomizer)]])
    added = wrapper.wrap_results([[("stage", StageCustomizer)], [("mirror", MirrorCustomizer)]])
    replaced = wrapper.wrap_results([[("stage", MirrorCustomizer)]])
    assert names(first) == [[("stage", "DemoStageCustomizer")]]
    assert names(added) == [
        [("stage", "DemoStageCustomizer")],
        [("mirror", "DemoMirrorCustomizer")],
    ]
    assert names(replaced) == [[("stage", "DemoMirrorCustomizer")]]
    # the class made for a customizer is the same whichever result it came in
    assert added[0][0][1] is first[0][0][1]
    assert wrapper.wrap_results([[("stage", StageCustomizer)]]) is first


def test_many_distinct_results_stay_correct() -> None:
    wrapper = make_wrapper()
    classes = [type(f"C{i}", (), {}) for i in range(100)]
    for cls in classes:
        assert names(wrapper.wrap_results([[("t", cls)]])) == [[("t", f"Demo{cls.__name__}")]]
    assert names(wrapper.wrap_results([[("t", classes[0])]])) == [[("t", "DemoC0")]]


def test_unhashable_pairs_are_wrapped_without_memoising() -> None:
    wrapper = make_wrapper()
    results: Results = [[["stage", StageCustomizer]]]  # type: ignore[list-item]  # a sloppy plugin
    assert names(wrapper.wrap_results(results)) == [[("stage", "DemoStageCustomizer")]]
    assert names(wrapper.wrap_results(results)) == [[("stage", "DemoStageCustomizer")]]


def test_stacked_wrappers_memoise_their_own_results() -> None:
    inner, outer = make_wrapper(), CustomizerWrapper(Other, Base, "Outer")
    first = outer.wrap_results(inner.wrap_results([[("stage", StageCustomizer)]]))
    again = outer.wrap_results(inner.wrap_results([[("stage", StageCustomizer)]]))
    assert again is first
    cls = first[0][0][1]
    assert cls.__name__ == "OuterDemoStageCustomizer"
    assert cls.__mro__[1:5] == (Other, inner.wrap(StageCustomizer), Mixin, StageCustomizer)


def test_stacked_wrappers_recognise_the_inner_memo_by_identity() -> None:
    """The outer wrapper gets the inner wrapper's memoised list each time: the same object,
    answered without hashing, and never confused with another list."""

    class OuterMixin:
        pass

    inner, outer = make_wrapper(), CustomizerWrapper(OuterMixin, Base, "Outer")
    stage = [[("stage", StageCustomizer)]]
    mirror = [[("mirror", MirrorCustomizer)]]
    first = outer.wrap_results(inner.wrap_results(stage))
    assert outer.wrap_results(inner.wrap_results([[("stage", StageCustomizer)]])) is first
    other = outer.wrap_results(inner.wrap_results(mirror))
    assert names(other) == [[("mirror", "OuterDemoMirrorCustomizer")]]
    assert outer.wrap_results(inner.wrap_results(stage)) is first
    assert names(first) == [[("stage", "OuterDemoStageCustomizer")]]
