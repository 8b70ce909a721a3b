"""Spacecraft process: onboard services, housekeeping, ADCS and payload."""
