"""Real servers the tests start themselves on loopback (see ../shared/recipes/REAL_SERVERS.md)."""
