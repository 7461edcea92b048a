package api

import (
	"net/http"
	"testing"

	"github.com/bmc-agent/bmc-agent/drivers"
	"github.com/bmc-agent/bmc-agent/drivers/fake"
	"github.com/bmc-agent/bmc-agent/store"
	"github.com/bmc-agent/bmc-agent/taskmanager"
)

// fuzzAPI is an API with its tables built and no store: enough for the
// decoding and patching the fuzz targets exercise.
func fuzzAPI(t testing.TB) *API {
	reg, err := drivers.NewRegistry(fake.New())
	if err != nil {
		t.Fatal(err)
	}
	a := &API{cfg: Config{Drivers: reg}, db: noStore{}, mux: http.NewServeMux()}
	a.nodes = a.nodeFields()
	a.nodeInputsCreate = a.nodeInputs(false)
	a.nodeInputsPatch = a.nodeInputs(true)
	return a
}

// noStore is a store no test path reaches.
type noStore struct{ store.Store }

// clientError fails unless err is an answer for the client's mistake: a
// 4xx, never a 5xx.
func clientError(t *testing.T, err error) {
	t.Helper()
	if status, msg := statusOf(err); status < 400 || status >= 500 {
		t.Fatalf("status %d (%s) for %v", status, msg, err)
	}
}

// FuzzDecodeNode feeds node creation bodies to the decoder: it never
// panics, refuses with a 4xx, or returns a node the store can take.
func FuzzDecodeNode(f *testing.F) {
	for _, seed := range []string{
		`{"driver": "fake"}`,
		`{"driver": "fake", "name": "n-1", "driver_info": {"ipmi_password": "x"}, "extra": {"a": [1, {"b": null}]}}`,
		`{"driver": "fake", "uuid": "0b0b0b0b-0000-4000-8000-000000000000", "conductor_group": "Rack.1"}`,
		`{"driver": "fake", "power_interface": "fake", "network_data": {}, "owner": null}`,
		`{"driver": "fake", "driver_info": {"x_password": "******"}}`,
		`{"driver": 1}`, `{"driver": "fake",`, `[]`, `"x"`, `{"driver": "fake", "name": "\u0000"}`,
		`{"driver": "fake", "description": "` + "\xff" + `"}`,
	} {
		f.Add([]byte(seed))
	}
	a := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseObject(body)
		if err != nil {
			clientError(t, err)
			return
		}
		n, err := a.decodeNewNode(o, MaxVersion)
		if err != nil {
			clientError(t, err)
			return
		}
		if n.Driver != fake.Name || n.ProvisionState != taskmanager.StateEnroll || (n.UUID != "" && !store.IsUUID(n.UUID)) {
			t.Fatalf("decoded node: %+v", n)
		}
		if n.Name != "" && (!nameRE.MatchString(n.Name) || store.IsUUID(n.Name)) {
			t.Fatalf("decoded name %q", n.Name)
		}
		for k, v := range n.DriverInfo {
			if drivers.IsSecretKey(k) && v == drivers.Redacted {
				t.Fatalf("driver_info/%s kept the placeholder", k)
			}
		}
	})
}

// FuzzPatchNode applies arbitrary JSON Patches to a node: never a panic or
// a 5xx; a patch that applies leaves the fields a client cannot set as they
// were, a registered driver, and the secret either as it was or replaced by
// a real value.
func FuzzPatchNode(f *testing.F) {
	for _, seed := range []string{
		`[{"op": "replace", "path": "/name", "value": "new"}]`,
		`[{"op": "add", "path": "/driver_info/ipmi_password", "value": "******"}]`,
		`[{"op": "replace", "path": "/driver_info", "value": {"ipmi_password": "******", "ipmi_address": "b"}}]`,
		`[{"op": "remove", "path": "/extra/a/0"}, {"op": "add", "path": "/extra/a/-", "value": 3}]`,
		`[{"op": "replace", "path": "/maintenance", "value": "yes"}]`,
		`[{"op": "replace", "path": "/power_state", "value": "power on"}]`,
		`[{"op": "move", "from": "/extra", "path": "/properties"}]`,
		`[{"op": "add", "path": "/extra/~1x~0", "value": 1}]`,
		`[{"op": "remove", "path": "/driver"}]`, `[]`, `[1]`, `[{}]`, `{"op": "add"}`,
		`[{"op": "add", "path": "/instance_info", "value": {"boot_iso": "http://x/y.iso"}}]`,
	} {
		f.Add([]byte(seed))
	}
	a := fuzzAPI(f)
	cur := &store.Node{
		UUID: "0b0b0b0b-0000-4000-8000-000000000000", Name: "n1", Driver: fake.Name,
		DriverInfo:     store.JSON{"ipmi_address": "a", "ipmi_password": "secret"},
		Extra:          store.JSON{"a": []any{1.0, 2.0}},
		ProvisionState: taskmanager.StateActive, PowerState: "power on", Reservation: "agent-a", Version: 7,
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		next, err := a.patchedNode(cur, body, MaxVersion)
		if err != nil {
			clientError(t, err)
			return
		}
		if next.UUID != cur.UUID || next.ProvisionState != cur.ProvisionState || next.PowerState != cur.PowerState ||
			next.Reservation != cur.Reservation || next.Version != cur.Version || next.Driver != fake.Name {
			t.Fatalf("the patch changed what it may not: %+v", next)
		}
		if pw, ok := next.DriverInfo["ipmi_password"]; ok && pw == drivers.Redacted {
			t.Fatalf("the placeholder replaced the secret")
		}
		if cur.DriverInfo["ipmi_password"] != "secret" || cur.Name != "n1" {
			t.Fatalf("the patch changed the node it was applied to")
		}
	})
}

// The status table: each kind of error the API meets gets its status.
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{badRequest("x"), http.StatusBadRequest},
		{&http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge},
		{&store.NotFoundError{Kind: "node", ID: "x"}, http.StatusNotFound},
		{&store.ConflictError{Kind: "node", Detail: "x"}, http.StatusConflict},
		{store.ErrUnavailable, http.StatusServiceUnavailable},
		{store.ErrInvalidQuery, http.StatusBadRequest},
		{taskmanager.ErrNoFreeWorker, http.StatusServiceUnavailable},
		{&taskmanager.InvalidStateError{Node: "n", State: "active", Event: "manage"}, http.StatusConflict},
		{&drivers.UnsupportedError{Driver: "d", Interface: drivers.VMediaInterface, Method: "InsertMedia"}, http.StatusBadRequest},
		{&drivers.DriverError{Driver: "d", Op: "x", Err: drivers.ErrBMCUnreachable}, http.StatusBadGateway},
		{&drivers.DriverError{Driver: "d", Op: "x", Err: drivers.ErrBMCTimeout}, http.StatusGatewayTimeout},
		{&drivers.DriverError{Driver: "d", Op: "x", Err: drivers.ErrBMCAuth}, http.StatusBadGateway},
		{&drivers.DriverError{Driver: "d", Op: "x", Err: drivers.ErrBMCRejected}, http.StatusBadRequest},
		{drivers.ErrUnknownDriver, http.StatusBadRequest},
		{drivers.ErrExclusiveLockRequired, http.StatusInternalServerError},
	} {
		if got, _ := statusOf(tc.err); got != tc.status {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.status)
		}
	}
}
