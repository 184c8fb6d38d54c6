"""Turning results into text: the only code that formats. One module per format."""
