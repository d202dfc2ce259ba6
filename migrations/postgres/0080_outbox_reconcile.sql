-- Reconciliation on (re)connection (issue 4): what the outbox knows of a user while the tenant is
-- not connected, so that connecting again brings Microsoft 365 to Tessera's state.
-- Suspended in Tessera (sign-in blocked in Microsoft 365 once pushed).
ALTER TABLE outbox_users ADD COLUMN suspended boolean NOT NULL DEFAULT false;
-- A user provisioned earlier was unassigned, deleted, re-assigned, suspended or reactivated while
-- the tenant was not connected: the next connection pushes the deprovision action or the status.
ALTER TABLE outbox_users ADD COLUMN missed boolean NOT NULL DEFAULT false;
