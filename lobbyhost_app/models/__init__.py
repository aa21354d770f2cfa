"""Qt item models over controller state: join requests and live peers."""
