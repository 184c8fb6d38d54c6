"""Analyses over the connectivity index: verify, synth, simulate, diff, blast radius, audit."""
