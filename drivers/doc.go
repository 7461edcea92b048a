// Package drivers is the contract between the agent and the code that talks
// to a BMC.
//
// It is a leaf, in the way database/sql/driver is: value types (PowerState,
// BootDevice, MediaType, ...), small capability interfaces, typed errors and a
// Registry, and nothing of the rest of the agent. Implementations live in
// subpackages (drivers/fake, drivers/ipmi, drivers/redfish) and are registered
// explicitly by the program's main.
//
// A driver is any value that implements Driver (a name and Validate); every
// other capability is optional and found by type assertion. Capabilities are
// split the way bmclib splits them, into readers and setters:
//
//	reads:    PowerGetter, BootDeviceGetter, BootModeGetter, MediaGetter, Checker
//	mutates:  PowerSetter, BootDeviceSetter, BootModeSetter, NMIInjector,
//	          MediaInserter, MediaEjecter
//
// Which methods mutate is declared once, in the method table of handle.go
// (Method.Mutates). Callers never hold a driver directly: the task manager hands
// out a *Handle, a decorator that implements every capability, refuses mutating
// calls unless the caller's task holds the node's exclusive lock
// (ErrExclusiveLockRequired, before any BMC I/O), reports a missing capability
// as an *UnsupportedError, and runs every call through the Middleware chain
// (metrics, timeouts).
//
// Driver methods receive a context and a Node, the part of a node a driver may
// need (its UUID and driver_info), never the task, so that this package and its
// implementations never import the task manager.
package drivers
