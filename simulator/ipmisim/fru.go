package ipmisim

import (
	"context"
	"net"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"
)

// What a system's BMC tells over IPMI of its hardware: FRU 0 (the product
// area: the system's manufacturer, model and serial, as Redfish serves
// them) and the BMC's own NIC (Get LAN Configuration Parameters). go-ipmi's
// handlers serve both from these HAL parts.

// fruStore serves FRU device 0; it writes nothing.
type fruStore struct{ s *sysBMC }

func (f fruStore) Read(_ context.Context, deviceID uint8) ([]byte, error) {
	if deviceID != 0 {
		return nil, hal.ErrNotFound
	}
	hw := f.s.sys.Hardware()
	product := (&types.FRUProductInfoArea{
		Manufacturer: []byte(hw.Manufacturer), Name: []byte(hw.Model),
		SerialNumber: []byte(hw.SerialNumber), PartModel: []byte(hw.SKU),
	}).Pack()
	hdr := &types.FRUCommonHeader{FormatVersion: 1, ProductOffset8B: 1}
	hb := hdr.Pack()
	var sum byte
	for _, b := range hb[:7] {
		sum += b
	}
	hb[7] = -sum
	return append(hb, product...), nil
}

func (fruStore) Write(context.Context, uint8, []byte) error { return hal.ErrNotSupported }
func (fruStore) Delete(context.Context, uint8) error        { return hal.ErrNotSupported }
func (fruStore) DeviceIDs(context.Context) ([]uint8, error) { return []uint8{0}, nil }

// storageHAL offers the FRU and the SDR repository (sensors.go).
type storageHAL struct{ s *sysBMC }

func (h storageHAL) FRU() hal.FRUStore { return fruStore(h) }
func (h storageHAL) SDR() hal.SDRStore { return sdrStore(h) }

// networkHAL is the BMC's own NIC: a locally administered MAC derived from
// the system's id, distinct from the host's NICs.
type networkHAL struct{ s *sysBMC }

func (h networkHAL) GetConfig(context.Context) (*hal.IPConfig, error) {
	c := &hal.IPConfig{IP: [4]byte{127, 0, 0, 1}, Mask: [4]byte{255, 0, 0, 0}}
	copy(c.MAC[:], BMCMAC(h.s.sys.ID()))
	return c, nil
}

func (networkHAL) SetConfig(context.Context, *hal.IPConfig) error { return hal.ErrNotSupported }

// BMCMAC is the MAC address the BMC of the system with this id reports for
// itself.
func BMCMAC(id string) net.HardwareAddr {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return net.HardwareAddr{0x02, 0xbc, byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}
}
