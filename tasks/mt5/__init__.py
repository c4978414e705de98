"""MT5 tasks: the sync cycle of a terminal, its account chunks, reading a terminal, master data."""
