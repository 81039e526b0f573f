"""Hold helpers that test modules share; nothing here is collected as a test."""
