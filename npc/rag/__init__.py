"""Retrieval over the game lore: lore files, chunks, a hybrid lexical + dense index."""
