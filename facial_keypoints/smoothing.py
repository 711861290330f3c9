"""Smoothing keypoints over time: the One-Euro filter.

A video's keypoints come from a fresh crop every frame, so they jitter by a pixel or two even when
the face is still. The One-Euro filter smooths them strongly when they are still (no jitter) and
lightly when they move (little lag).
"""

import numpy as np


class OneEuroFilter:
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for an array of values.

    A low-pass filter whose cut-off frequency rises with speed: still keypoints are smoothed
    strongly (no jitter), moving ones lightly (little lag).

    ``min_cutoff``: cut-off in Hz when still; lower is smoother. ``beta``: how fast the cut-off
    rises with speed, in Hz per (value unit per second); for photo pixels about 0.01.
    ``d_cutoff``: cut-off in Hz of the speed estimate.
    """

    def __init__(self, min_cutoff=1.0, beta=0.01, d_cutoff=1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value = self.speed = self.time = None

    @staticmethod
    def _smoothing(dt, cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value, t):
        """Filter ``value`` (any array shape, e.g. ``(15, 2)`` photo pixels) observed at time
        ``t`` seconds; returns the smoothed array (float64, same shape)."""
        value = np.asarray(value, dtype=np.float64)
        if self.value is None or self.value.shape != value.shape:
            self.value, self.speed, self.time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self.time if t > self.time else 1 / 30  # a repeated timestamp: assume 30 fps
        speed = (value - self.value) / dt
        self.speed += self._smoothing(dt, self.d_cutoff) * (speed - self.speed)
        if value.ndim >= 1 and value.shape[-1] == 2:  # points: one speed per point, not per axis
            magnitude = np.repeat(np.hypot(self.speed[..., :1], self.speed[..., 1:]), 2, axis=-1)
        else:
            magnitude = np.abs(self.speed)
        cutoff = self.min_cutoff + self.beta * magnitude
        self.value = self.value + self._smoothing(dt, cutoff) * (value - self.value)
        self.time = t
        return self.value.copy()
