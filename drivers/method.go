package drivers

// Method describes one driver method. The table below is the single place
// that declares which methods mutate a node: a *Handle lets a Mutates method
// run only for the holder of the node's exclusive lock.
type Method struct {
	Interface Interface
	// Name is the capability method's name, e.g. "SetPowerState".
	Name string
	// Mutates is true for methods that change the node (the setter
	// capabilities): they need the exclusive lock.
	Mutates bool
	// implemented reports whether a driver has the capability.
	implemented func(Driver) bool
}

// String names the method as interface.Name, e.g. "power.SetPowerState".
func (m Method) String() string { return string(m.Interface) + "." + m.Name }

func has[T any](d Driver) bool { _, ok := d.(T); return ok }

// The driver methods, declared once.
var (
	MethodPowerState            = Method{PowerInterface, "PowerState", false, has[PowerGetter]}
	MethodSupportedPowerActions = Method{PowerInterface, "SupportedPowerActions", false, has[PowerGetter]}
	MethodSetPowerState         = Method{PowerInterface, "SetPowerState", true, has[PowerSetter]}

	MethodBootDevice           = Method{ManagementInterface, "BootDevice", false, has[BootDeviceGetter]}
	MethodSupportedBootDevices = Method{ManagementInterface, "SupportedBootDevices", false, has[BootDeviceGetter]}
	MethodSetBootDevice        = Method{ManagementInterface, "SetBootDevice", true, has[BootDeviceSetter]}
	MethodBootMode             = Method{ManagementInterface, "BootMode", false, has[BootModeGetter]}
	MethodSetBootMode          = Method{ManagementInterface, "SetBootMode", true, has[BootModeSetter]}
	MethodInjectNMI            = Method{ManagementInterface, "InjectNMI", true, has[NMIInjector]}

	MethodMedia       = Method{VMediaInterface, "Media", false, has[MediaGetter]}
	MethodInsertMedia = Method{VMediaInterface, "InsertMedia", true, has[MediaInserter]}
	MethodEjectMedia  = Method{VMediaInterface, "EjectMedia", true, has[MediaEjecter]}

	MethodFirmware = Method{ManagementInterface, "Firmware", false, has[FirmwareGetter]}

	MethodCheck = Method{PowerInterface, "Check", false, has[Checker]}
)

// Methods lists every driver method a Handle offers.
var Methods = []Method{
	MethodPowerState, MethodSupportedPowerActions, MethodSetPowerState,
	MethodBootDevice, MethodSupportedBootDevices, MethodSetBootDevice,
	MethodBootMode, MethodSetBootMode, MethodInjectNMI,
	MethodMedia, MethodInsertMedia, MethodEjectMedia,
	MethodFirmware, MethodInspect, MethodTelemetry,
	MethodSubscriptions, MethodSubscription, MethodSubscribe, MethodUnsubscribe,
	MethodCheck,
}

// Implemented reports whether d implements the capability behind m.
func (m Method) Implemented(d Driver) bool { return m.implemented != nil && m.implemented(d) }

// Supports reports whether d implements at least one method of iface.
func Supports(d Driver, iface Interface) bool {
	for _, m := range Methods {
		if m.Interface == iface && m.Name != MethodCheck.Name && m.Implemented(d) {
			return true
		}
	}
	return false
}
