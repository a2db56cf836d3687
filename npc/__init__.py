"""The NPC brain: pipeline stages and the backends behind them."""
