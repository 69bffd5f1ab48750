"""Conversation history: the user/assistant message pairs of each conversation."""
