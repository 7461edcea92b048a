-- The result of each node's last inspection (issue 16): the inventory and
-- plugin data as Ironic's GET /v1/nodes/{node}/inventory answers them, as
-- JSON text. One row per node, replaced by every inspection.

CREATE TABLE node_inventory (
    node_uuid   TEXT PRIMARY KEY REFERENCES nodes (uuid) ON DELETE CASCADE,
    inventory   TEXT NOT NULL,
    plugin_data TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

-- When each node's last inspection began and ended (Ironic's
-- inspection_started_at and inspection_finished_at).
ALTER TABLE nodes ADD COLUMN inspection_started_at BIGINT;
ALTER TABLE nodes ADD COLUMN inspection_finished_at BIGINT;
