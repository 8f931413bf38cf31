-- The audit log reads a tenant's events by (tenant, at), and retention deletes by (at): the index
-- by (tenant, seq) of the first schema serves no statement and cost every appended event an
-- index entry.
DROP INDEX IF EXISTS keyward_audit_tenant;
