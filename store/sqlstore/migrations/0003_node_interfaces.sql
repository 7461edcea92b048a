-- The interface implementations a client chose for a node and its target
-- RAID configuration, as Ironic keeps them on the node (issue 14).
ALTER TABLE nodes ADD COLUMN interfaces TEXT NOT NULL DEFAULT '{}';
ALTER TABLE nodes ADD COLUMN target_raid_config TEXT NOT NULL DEFAULT '{}';
