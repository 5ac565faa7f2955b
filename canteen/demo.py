"""canteen's part of ``seed_demo``: filled in by the demo module of this app (see receivers)."""
