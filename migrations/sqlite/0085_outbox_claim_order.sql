-- See the PostgreSQL migration of the same number. The claim names this index (`INDEXED BY`):
-- without statistics SQLite's planner prefers `outbox_tasks_due` and sorts.
CREATE INDEX outbox_tasks_pending ON outbox_tasks (seq) WHERE status = 'PENDING';
