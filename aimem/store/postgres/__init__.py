"""The PostgreSQL backend. Imported only when a PostgreSQL URL is opened: psycopg
is an optional extra, and a repository on SQLite never loads it."""
