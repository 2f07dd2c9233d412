"""政策知识库: entries seats answer from, versioned, approved before publishing, searched in
Chinese while a call is on (SQLite FTS5 embedded, PostgreSQL full-text in production)."""
