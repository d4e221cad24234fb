"""Imported by the CPU workers' fork server before it forks them (`cpu_preload`): langdetect's
language profiles are read here once, about a second of CPU, instead of in every worker's
first verification."""

from langdetect.detector_factory import init_factory

init_factory()
