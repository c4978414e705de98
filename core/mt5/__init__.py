"""MT5: the gateway protocol that mirrors the MetaTrader5 package, its constants and
named tuples, and the pure rules of account sync (snapshot figures) and reconciliation."""
