"""The imager and its onboard analysis: scenes in, geolocated detections out (sans-IO, seeded).

:mod:`.scenefile` is the scene format the outside world reads and writes (``.npz``, docs/scene-format.md);
:mod:`.scene` synthesises scenes with exact truth; :mod:`.analysis` turns any scene into detections.
"""
