package ipmisim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmc-agent/bmc-agent/simulator"
)

// sysBMC is the IPMI BMC of one simulated system: a go-ipmi server whose
// chassis, boot and reset commands act on the shared *simulator.System.
type sysBMC struct {
	f    *Face
	sys  *simulator.System
	b    *bmc.BMC
	srv  *server.Server
	conn *packetConn

	resets atomic.Int64
	// noDCMI makes the BMC answer DCMI commands as one without DCMI.
	noDCMI atomic.Bool

	reqMu    sync.Mutex
	requests map[string]int // by command name
	// silentUntil (unix nanoseconds) keeps the BMC silent after a reset.
	silentUntil atomic.Int64
}

// userID is the IPMI user slot of the simulated administrator.
const userID = 2

// newSysBMC builds the BMC of sys on uc; f.mu must be held.
func (f *Face) newSysBMC(sys *simulator.System, index int, uc *net.UDPConn) *sysBMC {
	s := &sysBMC{f: f, sys: sys, requests: make(map[string]int)}
	s.conn = &packetConn{uc: uc, s: s, suppress: make(map[suppressKey]int)}
	guid := sha256.Sum256([]byte("bmc-agent ipmisim " + sys.ID()))
	var g [16]byte
	copy(g[:], guid[:])
	info := bmc.DeviceInfo{
		DeviceID: 0x20, DeviceRevision: 1, FirmwareMajor: 1, FirmwareMinor: 0,
		IPMIVersion: 0x20, ManufacturerID: 0x0000b0, ProductID: uint16(index),
	}
	s.b = bmc.New(info, g, chassisHAL{s}, bmc.WithCipherSuites([]types.CipherSuiteID{3, 17}), bmc.WithV15Disabled())
	// More sessions than the specification's minimum of 4, so that refused
	// logins (whose half-open sessions linger for a minute) and concurrent
	// clients do not exhaust the BMC.
	s.b.Sessions = bmc.NewSessionStoreWithOptions(s.b.Clock(), bmc.WithMaxSessions(f.cfg.MaxSessions))
	s.b.Sessions.SetOnRemove(s.b.SOL.DeactivateBySession)
	if err := s.setUser(f.credentialsOf(sys.ID())); err != nil {
		f.log.Error("IPMI user", "system", sys.ID(), "error", err)
	}
	reg := handlers.NewRegistry()
	reg.Use(s.count) // before registering: middleware applies at registration
	reg.Use(s.faults)
	handlers.RegisterAllHandlers(reg)
	reg.RegisterFunc(types.CommandChassisControl, s.chassisControl)
	reg.RegisterFunc(types.CommandSetSystemBootOptions, s.setBootOptions)
	reg.RegisterFunc(types.CommandGetSystemBootOptions, s.getBootOptions)
	reg.RegisterFunc(types.CommandColdReset, s.bmcReset)
	reg.RegisterFunc(types.CommandWarmReset, s.bmcReset)
	reg.RegisterFunc(types.CommandGetSDR, s.getSDR)
	reg.RegisterFunc(types.CommandGetSensorReading, s.getSensorReading)
	reg.RegisterFunc(types.CommandGetSensorThresholds, s.getSensorThresholds)
	reg.RegisterFunc(types.CommandGetDCMIPowerReading, s.getPowerReading)
	s.srv = server.NewServer(s.b, s.conn, server.WithHandlerRegistry(reg), server.WithV15Disabled())
	return s
}

// setUser makes c the BMC's administrator.
func (s *sysBMC) setUser(c credentials) error {
	return s.b.Users.Upsert(userID, func(u *bmc.User) error {
		u.Name = c.user
		u.SetPassword([]byte(c.password))
		u.Enabled = true
		if u.ChannelAccess == nil {
			u.ChannelAccess = make(map[uint8]bmc.UserChannelAccess)
		}
		u.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}
		return nil
	})
}

// bookkeeping are the session commands every client sends around its real
// command, and ipmitool's PICMG/HPM.x capability probe (group extension
// NetFn, but for the DCMI group) that precedes some of its commands. Faults apply to the real
// commands only, so that an error rate means the same per operation as on
// the Redfish face; unreachable BMCs and refused logins are handled below
// the session layer (packetConn).
func bookkeeping(c types.Command, req []byte) bool {
	if c.NetFn == types.NetFnGroupExtensionRequest {
		return len(req) == 0 || req[0] != dcmiGroup
	}
	if c.NetFn != types.NetFnAppRequest {
		return false
	}
	switch c.ID {
	case types.CommandGetChannelAuthCapabilities.ID, types.CommandGetSessionChallenge.ID,
		types.CommandActivateSession.ID, types.CommandSetSessionPrivilegeLevel.ID,
		types.CommandCloseSession.ID, types.CommandGetSessionInfo.ID, types.CommandGetChannelCipherSuites.ID:
		return true
	}
	return false
}

// faults is the handler middleware that plays the system's Fault once per
// request: latency, errors (503 as Node Busy, 500 as Unspecified Error, the
// BMC not acting), and hangs and drops as requests that get no answer (UDP
// has no connection to reset: the client just hears nothing). A hung
// request is held until the face closes.
func (s *sysBMC) faults(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if hctx.Session == nil || bookkeeping(hctx.Command, req) {
			return next.Handle(ctx, hctx, req)
		}
		if !s.f.enter() {
			s.conn.suppressNext(hctx.Session)
			return nil, types.CodeNodeBusy, nil
		}
		defer s.f.leave()
		f := s.sys.Fault()
		out := f.Roll()
		if out.Delay > 0 {
			t := time.NewTimer(out.Delay)
			select {
			case <-t.C:
			case <-s.f.done:
				t.Stop()
				s.conn.suppressNext(hctx.Session)
				return nil, types.CodeNodeBusy, nil
			}
		}
		switch out.Action {
		case simulator.FaultError:
			if out.Status == 500 {
				return nil, types.CodeUnspecifiedError, nil
			}
			return nil, types.CodeNodeBusy, nil
		case simulator.FaultHang:
			<-s.f.done
			s.conn.suppressNext(hctx.Session)
			return nil, types.CodeNodeBusy, nil
		case simulator.FaultDrop, simulator.FaultUnreachable:
			s.conn.suppressNext(hctx.Session)
			return nil, types.CodeNodeBusy, nil
		}
		return next.Handle(ctx, hctx, req)
	})
}

// count is the handler middleware that counts every request by command
// name (Face.Requests), session bookkeeping included.
func (s *sysBMC) count(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		name := hctx.Command.Name
		if name == "" {
			name = fmt.Sprintf("NetFn %#02x Cmd %#02x", uint8(hctx.Command.NetFn), hctx.Command.ID)
		}
		s.reqMu.Lock()
		s.requests[name]++
		s.reqMu.Unlock()
		return next.Handle(ctx, hctx, req)
	})
}

// chassisHAL gives go-ipmi's own handlers (Get Chassis Status) the system's
// power state. The face's handlers do the rest.
type chassisHAL struct{ s *sysBMC }

func (h chassisHAL) Chassis() hal.ChassisHAL { return h }
func (chassisHAL) Sensors() hal.SensorHAL    { return nil }
func (h chassisHAL) Storage() hal.StorageHAL { return storageHAL(h) }
func (h chassisHAL) Network() hal.NetworkHAL { return networkHAL(h) }
func (chassisHAL) GPIO() hal.GPIOHAL         { return nil }
func (chassisHAL) I2C() hal.I2CHAL           { return nil }
func (chassisHAL) Console() hal.ConsoleHAL   { return nil }
func (chassisHAL) Close() error              { return nil }

func (h chassisHAL) PowerState(context.Context) (bool, error) {
	return h.s.sys.PowerState() == simulator.PowerOn, nil
}
func (chassisHAL) SetPower(context.Context, bool) error         { return hal.ErrNotSupported }
func (chassisHAL) PowerCycle(context.Context) error             { return hal.ErrNotSupported }
func (chassisHAL) ColdReset(context.Context) error              { return hal.ErrNotSupported }
func (chassisHAL) WarmReset(context.Context) error              { return hal.ErrNotSupported }
func (chassisHAL) Identify(context.Context, uint8) error        { return nil }
func (chassisHAL) IntrusionState(context.Context) (bool, error) { return false, hal.ErrNotSupported }
func (chassisHAL) SetBootFlags(context.Context, *types.BootOptionParam_BootFlags) error {
	return hal.ErrNotSupported
}
func (chassisHAL) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	return nil, hal.ErrNotSupported
}
func (chassisHAL) SetBootInfoAcknowledge(context.Context, *types.BootOptionParam_BootInfoAcknowledge) error {
	return nil
}
func (chassisHAL) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	return nil, hal.ErrNotSupported
}

// packetConn is the BMC's UDP socket as go-ipmi sees it. Below the session
// layer it plays the faults that concern the whole BMC: an unreachable (or
// resetting) BMC hears nothing, and a BMC that refuses logins is handed
// RAKP message 1 with a user name no account has, so that it answers as to
// an unknown user. It also swallows the answers the fault middleware chose
// to withhold.
type packetConn struct {
	uc *net.UDPConn
	s  *sysBMC

	mu       sync.Mutex
	suppress map[suppressKey]int
}

// suppressKey names one session of one client.
type suppressKey struct {
	addr    string
	console uint32
}

// suppressNext withholds the next answer to sess. The server answers a
// session's requests one at a time, under the session's lock, right after
// the handler returns, so the next answer is this request's.
func (c *packetConn) suppressNext(sess *bmc.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.suppress[suppressKey{sess.GetAddr().String(), sess.ConsoleID}]++
}

// RMCP+ packet layout (IPMI v2.0 §13.6): RMCP header (4), auth type 0x06,
// payload type, session id (4, little endian), sequence (4), payload length
// (2), payload.
const (
	offAuthType    = 4
	offPayloadType = 5
	offSessionID   = 6
	offPayloadLen  = 14
	offPayload     = 16
	payloadRAKP1   = 0x12
	// In RAKP message 1, the user name's length is at payload offset 27,
	// the name follows (IPMI v2.0 §13.20).
	rakp1NameLen = 27
)

func (c *packetConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.uc.ReadFromUDP(buf)
		if err != nil {
			return n, addr, err
		}
		if c.s.sys.Fault().Unreachable || time.Now().UnixNano() < c.s.silentUntil.Load() {
			continue
		}
		if c.s.sys.Fault().RefuseLogin {
			n = refuseLogin(buf, n)
		}
		return n, addr, nil
	}
}

// refuseLogin replaces the user name of a RAKP message 1 in pkt[:n] with
// one no account has ("\x01"), adjusting the lengths; other packets pass.
func refuseLogin(pkt []byte, n int) int {
	if n < offPayload+rakp1NameLen+1 || pkt[3]&0x1f != 0x07 || pkt[offAuthType] != 0x06 || pkt[offPayloadType]&0x3f != payloadRAKP1 {
		return n
	}
	nameAt := offPayload + rakp1NameLen
	oldLen := int(pkt[nameAt])
	end := nameAt + 1 + oldLen
	if end > n || nameAt+2 > len(pkt) {
		return n
	}
	pkt[nameAt] = 1
	pkt[nameAt+1] = 0x01
	newN := nameAt + 2
	binary.LittleEndian.PutUint16(pkt[offPayloadLen:], uint16(newN-offPayload))
	return newN
}

func (c *packetConn) WriteTo(data []byte, addr net.Addr) (int, error) {
	if len(data) >= offPayload && data[offAuthType] == 0x06 {
		k := suppressKey{addr.String(), binary.LittleEndian.Uint32(data[offSessionID:])}
		c.mu.Lock()
		if c.suppress[k] > 0 {
			if c.suppress[k]--; c.suppress[k] == 0 {
				delete(c.suppress, k)
			}
			c.mu.Unlock()
			return len(data), nil
		}
		c.mu.Unlock()
	}
	return c.uc.WriteTo(data, addr)
}

func (c *packetConn) Close() error { return c.uc.Close() }

// LocalAddr lets go-ipmi learn its port (for SOL's Activate Payload).
func (c *packetConn) LocalAddr() net.Addr { return c.uc.LocalAddr() }
