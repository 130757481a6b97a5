"""Providers run a cell's notebook command somewhere: on Gradient, or on this machine."""
