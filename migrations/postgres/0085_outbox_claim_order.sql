-- Claiming walks the PENDING tasks in seq order and stops at the first due one (issue 4,
-- item 8): with only `outbox_tasks_due` (status, next_attempt_at) every claim read and sorted
-- all pending tasks, so an export of 10,000 users cost O(n²).
CREATE INDEX outbox_tasks_pending ON outbox_tasks (seq) WHERE status = 'PENDING';
