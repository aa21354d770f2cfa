"""Widgets and dialogs: they bind models and call controllers, never sockets or peers."""
