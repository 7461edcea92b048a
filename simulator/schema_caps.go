package simulator

import "strings"

// updatableTypes lists the resource types whose DMTF schema allows PATCH
// (Capabilities.UpdateRestrictions Updatable=true on the unversioned entity
// type), read from the CSDL of DMTF's Redfish-Publications, release 2025.4.
// A stored mockup resource of any other type (collections, ActionInfo,
// message registries, ...) answers PATCH with 405 and leaves PATCH out of its
// Allow header, as DMTF's Service Validator checks.
var updatableTypes = map[string]bool{
	"AccountService": true, "AddressPool": true, "AggregationService": true,
	"AggregationSource": true, "AllowDeny": true, "Assembly": true,
	"AutomationInstrumentation": true, "AutomationNode": true, "Battery": true, "Bios": true,
	"BootOption": true, "CXLLogicalDevice": true, "Cable": true, "Certificate": true,
	"CertificateEnrollment": true, "CertificateService": true, "Chassis": true, "Circuit": true,
	"ComponentIntegrity": true, "CompositionService": true, "ComputerSystem": true,
	"Connection": true, "Control": true, "CoolantConnector": true, "CoolingLoop": true,
	"CoolingUnit": true, "Drive": true, "Endpoint": true, "EndpointGroup": true,
	"EnvironmentMetrics": true, "EthernetInterface": true, "EventDestination": true,
	"EventService": true, "ExternalAccountProvider": true, "Fabric": true, "FabricAdapter": true,
	"Facility": true, "Fan": true, "Filter": true, "GraphicsController": true, "Heater": true,
	"HostInterface": true, "Job": true, "JobService": true, "Key": true, "KeyPolicy": true,
	"LeakDetector": true, "LicenseService": true, "LogEntry": true, "LogService": true,
	"Manager": true, "ManagerAccount": true, "ManagerNetworkProtocol": true, "Memory": true,
	"MemoryChunks": true, "MemoryRegion": true, "MetricDefinition": true,
	"MetricReportDefinition": true, "NetworkAdapter": true, "NetworkDeviceFunction": true,
	"NetworkPort": true, "OutboundConnection": true, "Outlet": true, "OutletGroup": true,
	"PCIeDevice": true, "PCIeFunction": true, "PCIeSlots": true, "Port": true, "Power": true,
	"PowerDistribution": true, "PowerDomain": true, "PowerSubsystem": true, "PowerSupply": true,
	"Processor": true, "Pump": true, "RegisteredClient": true, "Reservoir": true,
	"ResourceBlock": true, "Role": true, "RouteEntry": true, "RouteSetEntry": true,
	"SecureBoot": true, "SecurityPolicy": true, "Sensor": true, "SerialInterface": true,
	"SessionService": true, "SoftwareInventory": true, "Storage": true, "StorageController": true,
	"Switch": true, "TaskService": true, "TelemetryService": true, "Thermal": true,
	"ThermalSubsystem": true, "Triggers": true, "TrustedComponent": true, "UpdateService": true,
	"VCATEntry": true, "VLanNetworkInterface": true, "VirtualMedia": true,
	"VirtualPCI2PCIBridge": true, "Volume": true, "Zone": true,
}

// typeUpdatable reports whether an @odata.type ("#Chassis.v1_14_0.Chassis")
// names a type that DMTF's schema lets clients PATCH.
func typeUpdatable(odataType string) bool {
	name, _, _ := strings.Cut(strings.TrimPrefix(odataType, "#"), ".")
	return updatableTypes[name]
}
