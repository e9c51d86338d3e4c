"""Adapters that let other frameworks call a trained svg_tf run (VP2's planner: vp2.py)."""
