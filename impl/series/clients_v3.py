"""V3 patches 06-14: the converted users (filled in below)."""
CLIENT_PATCHES: list = []
