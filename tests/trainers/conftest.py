"""Torch on a shared CPU: OpenMP threads that sleep while they wait, instead of spinning.

With spinning (the default) two torch threads on two busy cores waited on each other for whole
time slices: a forward ran about ten times slower. The setting must be made before torch
starts, so it lives here, before any test module of this directory imports torch.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
