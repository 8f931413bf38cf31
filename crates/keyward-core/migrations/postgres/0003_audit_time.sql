-- Audit events by time: retention deletes everything before a time (`at`), and the audit log reads
-- a tenant's events newest first, optionally within a time window (`tenant, at`).
CREATE INDEX keyward_audit_at ON keyward_audit (at);
CREATE INDEX keyward_audit_tenant_at ON keyward_audit (tenant, at);
