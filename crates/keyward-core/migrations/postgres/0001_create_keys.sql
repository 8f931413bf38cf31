-- Keys and their audit trail. Times are unix milliseconds; a key's secret is never stored, only
-- the lowercase hex SHA-256 (or HMAC-SHA256) of the whole token. Ids sort bytewise (COLLATE "C"),
-- as in the other stores.
CREATE TABLE keyward_keys (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant         TEXT COLLATE "C" NOT NULL,
    -- `p:<public prefix>` or `h:<hash hex>`: how a presented token finds its record.
    lookup         TEXT COLLATE "C" NOT NULL UNIQUE,
    secret_hash    TEXT   NOT NULL,
    display_prefix TEXT   NOT NULL,
    kind           TEXT   NOT NULL,
    environment    TEXT   NOT NULL,
    -- Space-separated scopes.
    scopes         TEXT   NOT NULL,
    tier           TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT,
    last_used_at   BIGINT,
    request_count  BIGINT NOT NULL DEFAULT 0,
    -- The id of the first key of the rotation chain.
    lineage        TEXT COLLATE "C" NOT NULL,
    rotated_from   TEXT COLLATE "C",
    grace_until    BIGINT
);

CREATE INDEX keyward_keys_tenant ON keyward_keys (tenant, created_at);
CREATE INDEX keyward_keys_lineage ON keyward_keys (lineage);

CREATE TABLE keyward_audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    request_id  TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    tenant      TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    client_ip   TEXT,
    user_agent  TEXT
);

CREATE INDEX keyward_audit_tenant ON keyward_audit (tenant, seq);
