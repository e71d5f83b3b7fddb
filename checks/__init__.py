"""Engines, reports and the command line."""
