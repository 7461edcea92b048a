-- The inventory and its locks. Written once for both databases: {{serial}},
-- {{bool}} and {{false}} are filled in per dialect. Times are microseconds
-- since the Unix epoch, taken from the database's clock.

CREATE TABLE nodes (
    id                     {{serial}},
    uuid                   TEXT NOT NULL UNIQUE,
    name                   TEXT UNIQUE,
    driver                 TEXT NOT NULL,
    driver_info            TEXT NOT NULL DEFAULT '{}',
    power_state            TEXT NOT NULL DEFAULT '',
    target_power_state     TEXT NOT NULL DEFAULT '',
    provision_state        TEXT NOT NULL,
    target_provision_state TEXT NOT NULL DEFAULT '',
    provision_updated_at   BIGINT,
    boot_mode              TEXT NOT NULL DEFAULT '',
    last_error             TEXT NOT NULL DEFAULT '',
    maintenance            {{bool}} NOT NULL DEFAULT {{false}},
    maintenance_reason     TEXT NOT NULL DEFAULT '',
    fault                  TEXT NOT NULL DEFAULT '',
    reservation            TEXT,
    reservation_purpose    TEXT,
    reserved_at            BIGINT,
    instance_info          TEXT NOT NULL DEFAULT '{}',
    properties             TEXT NOT NULL DEFAULT '{}',
    extra                  TEXT NOT NULL DEFAULT '{}',
    agent_group            TEXT NOT NULL DEFAULT '',
    resource_class         TEXT NOT NULL DEFAULT '',
    description            TEXT NOT NULL DEFAULT '',
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX nodes_reservation ON nodes (reservation) WHERE reservation IS NOT NULL;
CREATE INDEX nodes_provision_state ON nodes (provision_state);
CREATE INDEX nodes_agent_group ON nodes (agent_group);

CREATE TABLE ports (
    id                    {{serial}},
    uuid                  TEXT NOT NULL UNIQUE,
    node_uuid             TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
    address               TEXT NOT NULL UNIQUE,
    pxe_enabled           {{bool}} NOT NULL DEFAULT {{false}},
    local_link_connection TEXT NOT NULL DEFAULT '{}',
    physical_network      TEXT NOT NULL DEFAULT '',
    extra                 TEXT NOT NULL DEFAULT '{}',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX ports_node ON ports (node_uuid);

CREATE TABLE volume_connectors (
    id           {{serial}},
    uuid         TEXT NOT NULL UNIQUE,
    node_uuid    TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    extra        TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (type, connector_id)
);
CREATE INDEX volume_connectors_node ON volume_connectors (node_uuid);

CREATE TABLE volume_targets (
    id          {{serial}},
    uuid        TEXT NOT NULL UNIQUE,
    node_uuid   TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
    volume_type TEXT NOT NULL,
    boot_index  INTEGER NOT NULL,
    volume_id   TEXT NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (node_uuid, boot_index)
);
CREATE INDEX volume_targets_node ON volume_targets (node_uuid);

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    hostname       TEXT NOT NULL,
    agent_group    TEXT NOT NULL DEFAULT '',
    started_at     BIGINT NOT NULL,
    last_heartbeat BIGINT NOT NULL
);
