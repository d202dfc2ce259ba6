-- The tenant's grace period before the DELETE deprovision action deletes a Microsoft 365 user
-- (issue 4, item 5: three days unless the tenant sets another).
ALTER TABLE outbox_tenants ADD COLUMN delete_grace_hours integer NOT NULL DEFAULT 72;
