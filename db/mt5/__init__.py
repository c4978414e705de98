"""MT5 rows: accounts and expected positions, the sync's results, cycle queries."""
