package store

import "time"

// JSON is a JSON object column: driver_info, instance_info, properties, extra.
type JSON = map[string]any

// Node is a bare-metal machine the agent manages.
type Node struct {
	UUID string
	// Name is optional and unique; "" means none.
	Name   string
	Driver string
	// DriverInfo holds the BMC address and credentials. It contains
	// secrets: show it only through drivers.Info.Redacted.
	DriverInfo JSON

	PowerState       string
	TargetPowerState string
	// ProvisionState and TargetProvisionState follow the state machine of
	// package taskmanager.
	ProvisionState       string
	TargetProvisionState string
	ProvisionUpdatedAt   *time.Time
	BootMode             string

	LastError         string
	Maintenance       bool
	MaintenanceReason string
	// Fault names why the agent itself put the node into maintenance, e.g.
	// "power failure"; "" when it did not.
	Fault string

	// Reservation is the agent that holds the node's exclusive lock, "" if
	// none; ReservationPurpose and ReservedAt describe the lock. Read-only
	// here: only lock.Backend changes them.
	Reservation        string
	ReservationPurpose string
	ReservedAt         *time.Time
	// LockToken is the fencing token of the lock's latest acquisition (see
	// lock.Token): it grows every time the lock is taken. Read-only here.
	LockToken int64

	InstanceInfo JSON
	Properties   JSON
	Extra        JSON

	// AgentGroup is the group of agents that may manage the node (Ironic's
	// conductor_group).
	AgentGroup    string
	ResourceClass string
	Description   string
	// Interfaces holds the interface implementations a client chose, by
	// Ironic's field name ("boot_interface": "ipxe"); a field not in it has
	// its driver's default.
	Interfaces JSON
	// TargetRAIDConfig is the RAID configuration a client asked for
	// (Ironic's target_raid_config); the agent records it and applies none.
	TargetRAIDConfig JSON

	// InspectionStartedAt and InspectionFinishedAt are when the last
	// inspection began and ended (nil: never).
	InspectionStartedAt, InspectionFinishedAt *time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts the node's updates, for optimistic concurrency.
	Version int64
}

// Port is a network interface of a node, known by its MAC address.
type Port struct {
	UUID       string
	NodeUUID   string
	Address    string // MAC address, lower case
	PXEEnabled bool
	// LocalLinkConnection describes the switch port (switch_id, port_id, ...).
	LocalLinkConnection JSON
	PhysicalNetwork     string
	Extra               JSON
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// VolumeConnector is a node's initiator for remote storage (iqn, wwpn, ...).
type VolumeConnector struct {
	UUID        string
	NodeUUID    string
	Type        string // "iqn", "ip", "mac", "wwnn", "wwpn", "port", "portgroup"
	ConnectorID string
	Extra       JSON
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// VolumeTarget is a remote volume a node uses, possibly to boot from.
type VolumeTarget struct {
	UUID       string
	NodeUUID   string
	VolumeType string // "iscsi", "fibre_channel", ...
	BootIndex  int
	VolumeID   string
	Properties JSON
	Extra      JSON
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Agent is a running bmc-agent as the database knows it.
type Agent struct {
	ID            string
	Hostname      string
	Group         string
	StartedAt     time.Time
	LastHeartbeat time.Time
	// Alive is computed by Agents against its timeout.
	Alive bool
}

// NodeFilter selects nodes. Zero fields do not filter.
type NodeFilter struct {
	Driver         string
	ProvisionState string
	Maintenance    *bool
	// Reservation selects nodes locked by this agent id.
	Reservation string
	// Reserved selects locked (true) or unlocked (false) nodes.
	Reserved   *bool
	AgentGroup *string
	// FaultSet selects nodes with (true) or without (false) a fault.
	FaultSet *bool
	Page
}

// ChildFilter selects ports, connectors or targets.
type ChildFilter struct {
	// NodeUUID selects those attached to one node.
	NodeUUID string
	Page
}

// Page orders and pages a listing. Sorting is by SortKey (a column name the
// backend accepts, default "id" in insertion order), ascending unless Desc.
// Marker is the UUID of the last item of the previous page.
type Page struct {
	Limit   int
	Marker  string
	SortKey string
	Desc    bool
}

// IsUUID reports whether s has the form of a UUID (8-4-4-4-12 hex digits).
// Node names may not, so an ident is looked up as a UUID or as a name by its
// form. (Every task acquisition asks, hence no regular expression.)
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
