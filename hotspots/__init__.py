"""hotspots: crime and anti-social-behaviour hotspot analysis for UK community-safety analysts."""

__version__ = "0.1.0"
