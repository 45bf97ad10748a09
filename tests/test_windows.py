"""Half-overlapping windows (docs/methods/adnet.md §4, §11.5)."""
import numpy as np
import pytest

from vadflow.methods import windows

W = 64
EXPECTED = {10: ([0], 64), 64: ([0], 64), 65: ([0, 32], 96), 100: ([0, 32, 64], 128), 128: ([0, 32, 64], 128)}


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_starts_and_padded_length(n):
    starts, padded = EXPECTED[n]
    assert windows.window_starts(n, W).tolist() == starts
    assert windows.padded_length(n, W) == padded
    assert starts[-1] + W == padded  # the last window ends exactly at the padded end


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_split_covers_every_clip_and_pads(n):
    seq = np.arange(1, n + 1, dtype=np.float32)
    parts = windows.split(seq, W, fill=-1)
    assert parts.shape == (len(EXPECTED[n][0]), W)
    real = parts[parts > 0]
    assert set(real.tolist()) == set(seq.tolist())  # every clip covered at least once
    assert (parts[parts <= 0] == -1).all()  # padding uses the sentinel, nothing else
    mask = windows.split(np.ones(n, np.float32), W)
    assert int(mask.sum()) == len(real)


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_merge_averages_overlaps_and_round_trips(n):
    starts = windows.window_starts(n, W)
    const = np.array([[0.2 if k % 2 == 0 else 0.6] * W for k in range(len(starts))])
    merged = windows.merge(const, n, W)
    assert merged.shape == (n,)
    cover = np.zeros(n, int)
    for s in starts:
        cover[s : s + W] += 1
    np.testing.assert_allclose(merged[cover == 2], 0.4)
    if len(starts) > 1:
        assert (cover == 2).any()
    seq = np.random.default_rng(n).random(n)
    np.testing.assert_allclose(windows.merge(windows.split(seq, W), n, W), seq)


def test_whole_sequence_window():
    seq = np.arange(7, dtype=np.float32)
    assert windows.split(seq, 0).shape == (1, 7)
    np.testing.assert_allclose(windows.merge(windows.split(seq, 0), 7, 0), seq)


def test_odd_width_rejected():
    with pytest.raises(ValueError):
        windows.window_starts(10, 63)
