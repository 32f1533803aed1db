from fractions import Fraction

import av
import pytest

from vfi.io.frames import SourceFrame
from vfi.timing import (FIRST_INTERVALS, IntervalLog, SourceLockedTimeline, Timeline, bisection_error, dyadic, output_time_base,
                        parse_rate)


@pytest.mark.parametrize("text,expected", [
    ("48", Fraction(48)), ("59.94", Fraction(60000, 1001)), ("23.976", Fraction(24000, 1001)),
    ("30000/1001", Fraction(30000, 1001)), ("25", Fraction(25)), ("12.5", Fraction(25, 2)),
])
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("bad", ["abc", "0", "-24", "1/0"])
def test_parse_rate_rejects(bad):
    with pytest.raises(ValueError):
        parse_rate(bad)


def plan(n, src_rate, out_rate):
    step = 1 / Fraction(out_rate)
    tl = Timeline(Fraction(0), step, step, tolerance=step / 100)
    src = [Fraction(i) / src_rate for i in range(n)]
    slots = []
    for a, b in zip(src, src[1:]):
        slots += [(s.index, s.t, a) for s in tl.slots_between(a, b)]
    end = src[-1] + 1 / Fraction(src_rate)
    total = tl.frame_count(end)
    slots += [(s.index, s.t, src[-1]) for s in tl.slots_until(total)]
    return tl, slots, total


def test_double_rate_gives_2n_with_source_on_even_frames():
    tl, slots, total = plan(10, Fraction(24), Fraction(48))
    assert total == 20
    assert [s[0] for s in slots] == list(range(20))
    assert all(t == 0 for k, t, _ in slots if k % 2 == 0)
    assert all(t == 0.5 for k, t, _ in slots[:-1] if k % 2 == 1)


def test_24_to_60_places_every_frame_exactly():
    tl, slots, total = plan(48, Fraction(24), Fraction(60))
    assert total == 120  # 2 s at 60 fps
    for k, t, a in slots[:-2]:
        expected = Fraction(k, 60)
        assert a + Fraction(t).limit_denominator(100) / 24 == expected
    # every 5th output frame is a source frame (k/60 == j/24 when k = 2.5 j)
    assert [k for k, t, _ in slots if t == 0] == list(range(0, 120, 5)) + [118, 119]
    # ... the last two (after the last source frame at 117.5/60) hold that frame
    assert [a for k, t, a in slots[-2:]] == [Fraction(47, 24)] * 2


def test_ntsc_23976_to_5994():
    src, out = Fraction(24000, 1001), Fraction(60000, 1001)
    tl, slots, total = plan(100, src, out)
    assert total == 250
    assert tl.time_base == Fraction(1001, 60000)
    assert [tl.pts(k) for k in range(4)] == [0, 1, 2, 3]
    source_slots = [k for k, t, _ in slots if t == 0]
    assert source_slots[:5] == [0, 5, 10, 15, 20]
    assert sorted({round(t, 6) for _, t, _ in slots}) == [0.0, 0.2, 0.4, 0.6, 0.8]


def test_output_time_base_keeps_offset_exact():
    tb = output_time_base(Fraction(1, 3), Fraction(1001, 60000))
    assert (Fraction(1, 3) / tb).denominator == 1 and (Fraction(1001, 60000) / tb).denominator == 1


def test_dyadic_and_bisection_error():
    assert dyadic(0.4, 3) == Fraction(3, 8)
    assert dyadic(0.5, 1) == Fraction(1, 2)
    assert bisection_error([0.4, 0.8], 3) == pytest.approx(0.05)
    assert bisection_error([0.5], 1) == 0


def drifting_times(n, nominal=Fraction(30000, 1001), slow=Fraction(1003, 1000), tick=Fraction(1, 1000)):
    """A camera clock 0.3 % slower than its nominal rate, stamped to the nearest tick."""
    return [round(i * slow / nominal / tick) * tick for i in range(n)]


def test_source_locked_keeps_every_source_frame_at_its_own_time():
    src = drifting_times(200)
    tl = SourceLockedTimeline(src[0], 2, 1, Fraction(1001, 60000), Fraction(1, 1000))
    slots = []
    for a, b in zip(src, src[1:]):
        slots += [(s, a, b) for s in tl.slots_between(a, b)]
    slots += [(s, src[-1], None) for s in tl.tail(src[-1], src[-1] + src[-1] - src[-2])]
    assert [s.index for s, _, _ in slots] == list(range(400))
    assert all(s.t == 0 and s.pts * tl.time_base == a for s, a, _ in slots[::2])  # the source, unmoved
    assert all(s.t == 0.5 and s.pts * tl.time_base == (a + b) / 2 for s, a, b in slots[1:-1:2])
    pts = [s.pts for s, _, _ in slots]
    assert pts == sorted(set(pts))
    # the same stamps on the constant grid drift off the source frames: most get made
    grid = Timeline(src[0], 1 / Fraction(60000, 1001), 1 / Fraction(60000, 1001), tolerance=Fraction(1, 2000))
    made = [s for a, b in zip(src, src[1:]) for s in grid.slots_between(a, b) if 0 < s.t < 1]
    assert len(made) > 300


def test_source_locked_slow_motion_stretches_the_source_clock():
    src = drifting_times(20)
    tl = SourceLockedTimeline(src[0], 4, 4, Fraction(1001, 120000), Fraction(1, 1000))
    slots = [s for a, b in zip(src, src[1:]) for s in tl.slots_between(a, b)]
    assert [s.t for s in slots[:4]] == [0, 0.25, 0.5, 0.75]
    assert all(slots[4 * i].pts * tl.time_base == 4 * src[i] for i in range(19))
    assert slots[5].pts * tl.time_base == 4 * src[1] + (src[2] - src[1])


def test_source_locked_fills_gaps_at_the_output_rate():
    # variable frame rate: a dropped frame (2/24) and two (3/24) get 4 and 6 slots at 2x
    src = [Fraction(i, 24) for i in (0, 1, 2, 4, 5, 8)]
    tl = SourceLockedTimeline(src[0], 2, 1, Fraction(1, 48), Fraction(1, 24))
    slots = [s for a, b in zip(src, src[1:]) for s in tl.slots_between(a, b)]
    slots += list(tl.tail(src[-1], src[-1] + Fraction(1, 24)))
    assert [s.pts * tl.time_base for s in slots] == [Fraction(k, 48) for k in range(18)]
    assert [s.t for s in slots[4:8]] == [0, 0.25, 0.5, 0.75]


def test_source_locked_splits_every_ordinary_interval_n_ways_whatever_the_nominal_rate():
    # a 30 fps clip whose first frame came 185 ms late, taken at a nominal 20 fps (an
    # average rate pulled down by gaps): every 1/30 s interval still gets exactly 3 frames
    src = [Fraction(0)] + [Fraction(185, 1000) + Fraction(i, 30) for i in range(40)]
    tl = SourceLockedTimeline(src[0], 3, 1, 1 / (3 * Fraction(20)), Fraction(1, 90000))
    counts = [len(list(tl.slots_between(a, b))) for a, b in zip(src, src[1:])]
    assert counts[0] == 12 and set(counts[1:]) == {3}  # the gap spans about 4 nominal intervals


def test_the_interval_log_keeps_the_first_intervals_and_the_last():
    log = IntervalLog()
    last = SourceFrame(0, Fraction(10), av.VideoFrame(16, 16, "rgb24"))
    assert log.final_step(last, Fraction(25)) == Fraction(1, 25)  # nothing seen: one frame at the rate
    for i in range(FIRST_INTERVALS + 5):
        log.add(Fraction(1, 30) if i < FIRST_INTERVALS else Fraction(1, 10))
    assert len(log.first) == FIRST_INTERVALS and set(log.first) == {Fraction(1, 30)}
    assert log.final_step(last, Fraction(25)) == Fraction(1, 10)  # the interval before the last frame
    last.duration = Fraction(1, 50)  # the last frame's own duration comes first
    assert log.final_step(last, Fraction(25)) == Fraction(1, 50)
