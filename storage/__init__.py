"""SQLModel tables, the engine/session module and query functions that take a session."""
