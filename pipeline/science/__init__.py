"""Science: pure compute on arrays and tables.

Calibration, masks, anomaly, detection, footprints, activity fits, placebo nulls, power and
declared power. Imports only :mod:`pipeline.core` and the energy model of :mod:`models`
(``tests/test_layers.py``).
"""
