"""MT5 gateways: the real MetaTrader5 module (Windows), the mt5linux bridge, and the
scenario-driven simulator (the embedded default and the test double)."""
