package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Version is an Ironic API microversion, 1.Minor.
type Version struct{ Major, Minor int }

// String formats the version as Ironic's headers do, "1.89".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// atLeast reports whether v is 1.minor or newer.
func (v Version) atLeast(minor int) bool { return v.Minor >= minor }

// The microversions the agent serves.
//
// MaxVersion is 1.89 because that is where POST/DELETE /v1/nodes/{node}/vmedia
// appeared, and virtual media is half of what the agent does; PUT
// .../states/boot_mode needs 1.76. Claiming 1.89 commits the agent to every
// field of versions up to it: the ones it has no use for (traits,
// chassis_uuid, owner, lessee, protected, retired, shard, parent_node, the
// *_interface names it does not offer, port name, ...) are shown with their
// unset value (null, false, {}, []) and refused with 400 when a client sets
// them to anything else, and resources it does not have (portgroups,
// allocations, deploy templates, chassis, node history, BIOS, ...) answer
// 404 as Ironic answers for an unknown resource. It stops at 1.89 because
// 1.95 (disable_power_off) would promise a safety behaviour the agent does
// not implement, and 1.93 (GET vmedia) with 1.92 (runbooks) and 1.94 (ports
// by node name) would add little for that promise.
//
// MinVersion is Ironic's own minimum, 1.1: old clients keep working, and a
// request without a version header is served as 1.1, as Ironic serves it
// (nodes are then created in "available", fields and endpoints newer than
// the requested version are hidden).
var (
	MinVersion = Version{1, 1}
	MaxVersion = Version{1, 89}
)

// The microversions that introduced what the agent serves (Ironic's numbers).
const (
	vNodeName          = 5
	vDriverInternal    = 3
	vInspectStates     = 6
	vCleanStep         = 7
	vFields            = 8
	vProvisionFilter   = 9
	vEnrollState       = 11
	vRAIDConfig        = 12
	vAbort             = 13
	vStatesLinks       = 14
	vDriverFilter      = 16
	vPortInternalInfo  = 18
	vPortAdvanced      = 19
	vNetworkInterface  = 20
	vResourceClass     = 21
	vPortgroupUUID     = 24
	vSoftPower         = 27
	vInjectNMI         = 29
	vDynamicInterfaces = 31
	vVolume            = 32
	vStorageInterface  = 33
	vPhysicalNetwork   = 34
	vTraits            = 37
	vRescueInterface   = 38
	vBIOSInterface     = 40
	vFault             = 42
	vDetailQuery       = 43
	vDeployStep        = 44
	vConductorGroup    = 46
	vAutomatedClean    = 47
	vProtected         = 48
	vConductors        = 49
	vOwner             = 50
	vDescription       = 51
	vAllocationUUID    = 52
	vSmartNIC          = 53
	vRetired           = 61
	vLessee            = 65
	vNetworkData       = 66
	vDeployVerbs       = 73
	vBootModeFields    = 75
	vBootModeSet       = 76
	vDriverFields      = 77
	vShard             = 82
	vParentNode        = 83
	vFirmwareInterface = 86
	vServiceStep       = 87
	vPortName          = 88
	vVMedia            = 89
)

// Header names of Ironic's versioning.
const (
	hdrVersion    = "X-OpenStack-Ironic-API-Version"
	hdrMinVersion = "X-OpenStack-Ironic-API-Minimum-Version"
	hdrMaxVersion = "X-OpenStack-Ironic-API-Maximum-Version"
	hdrStdVersion = "OpenStack-API-Version"
)

type versionKey struct{}

// versionOf returns the microversion a request negotiated.
func versionOf(r *http.Request) Version {
	if v, ok := r.Context().Value(versionKey{}).(Version); ok {
		return v
	}
	return MinVersion
}

// setVersionRange puts the minimum and maximum on a response, as Ironic does
// on every response of the API.
func setVersionRange(h http.Header) {
	h.Set(hdrMinVersion, MinVersion.String())
	h.Set(hdrMaxVersion, MaxVersion.String())
}

// negotiate reads the version a request asks for: the standard
// "OpenStack-API-Version: baremetal X.Y" if present, else
// X-OpenStack-Ironic-API-Version; "latest" is the maximum; none is the
// minimum. A malformed or unsupported version is a 406, as in Ironic.
func negotiate(h http.Header) (Version, error) {
	raw := ""
	if std := h.Get(hdrStdVersion); std != "" {
		service, ver, ok := strings.Cut(strings.TrimSpace(std), " ")
		if ok && strings.EqualFold(service, "baremetal") {
			raw = strings.TrimSpace(ver)
		}
	}
	if raw == "" {
		raw = strings.TrimSpace(h.Get(hdrVersion))
	}
	if raw == "" {
		return MinVersion, nil
	}
	if strings.EqualFold(raw, "latest") {
		return MaxVersion, nil
	}
	majorS, minorS, ok := strings.Cut(raw, ".")
	major, err1 := strconv.Atoi(majorS)
	minor, err2 := strconv.Atoi(minorS)
	if !ok || err1 != nil || err2 != nil || major < 0 || minor < 0 || len(raw) > 16 {
		return Version{}, notAcceptable("Invalid value for %s header: %q; expected X.Y or latest", hdrVersion, truncate(raw, 32))
	}
	v := Version{major, minor}
	if major != MinVersion.Major {
		return Version{}, notAcceptable("Mutually exclusive versions requested. Version %s requested but not supported by this service. The supported version range is: [%s, %s]", v, MinVersion, MaxVersion)
	}
	if minor < MinVersion.Minor || minor > MaxVersion.Minor {
		return Version{}, notAcceptable("Version %s was requested but the minor version is not supported by this service. The supported version range is: [%s, %s]", v, MinVersion, MaxVersion)
	}
	return v, nil
}

// withVersion negotiates the microversion of a /v1 request, puts it on the
// context and on the response headers.
func withVersion(ctx context.Context, w http.ResponseWriter, r *http.Request) (context.Context, error) {
	v, err := negotiate(r.Header)
	if err != nil {
		return ctx, err
	}
	h := w.Header()
	h.Set(hdrVersion, v.String())
	h.Set(hdrStdVersion, "baremetal "+v.String())
	h.Add("Vary", hdrVersion)
	h.Add("Vary", hdrStdVersion)
	return context.WithValue(ctx, versionKey{}, v), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
