package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/stmcginnis/gofish/common"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Event subscriptions (drivers.EventSubscriber) through the BMC's
// EventService (DSP0266 "Eventing"; DMTF schemas EventService and
// EventDestination): the service root links the EventService, which links
// its Subscriptions collection; a POST there creates an EventDestination,
// a DELETE of its URI removes it. Every request goes through the driver's
// call machinery (call.go): the node's credentials and session, the BMC's
// request semaphore, timeouts and retries. A subscription POST is not
// idempotent, so it is never resent once it may have reached the BMC.
//
// The subscription names the node's ComputerSystem in OriginResources, so
// that a BMC serving several systems sends only that system's events; a BMC
// that refuses the property (a 400: some implement only the basic
// properties, e.g. OpenBMC's bmcweb before 2022) gets the request again
// without it, which on a one-system BMC means the same.

// subscriptionsPath returns the Subscriptions collection's URI, or an error
// that Is(ErrUnsupported) when the BMC has no (enabled) EventService.
func (cl *call) subscriptionsPath() (string, error) {
	var root struct {
		EventService *struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := cl.getJSON(serviceRoot, &root); err != nil {
		return "", err
	}
	if root.EventService == nil || root.EventService.ID == "" {
		return "", unsupported("the BMC has no EventService")
	}
	var es struct {
		ServiceEnabled *bool
		Subscriptions  *struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := cl.getJSON(root.EventService.ID, &es); err != nil {
		return "", err
	}
	if es.ServiceEnabled != nil && !*es.ServiceEnabled {
		return "", unsupported("the BMC's EventService is disabled")
	}
	if es.Subscriptions == nil || es.Subscriptions.ID == "" {
		return "", unsupported("the BMC's EventService has no Subscriptions")
	}
	return es.Subscriptions.ID, nil
}

// Subscriptions implements drivers.EventSubscriber: every subscription of
// the BMC, each read for its Destination, Context and State. Read-only.
func (d *Driver) Subscriptions(ctx context.Context, n drivers.Node) ([]drivers.EventSubscription, error) {
	var out []drivers.EventSubscription
	err := d.run(ctx, n, drivers.ManagementInterface, "list event subscriptions", func(cl *call) error {
		coll, err := cl.subscriptionsPath()
		if err != nil {
			return err
		}
		col, err := common.GetCollection(cl, coll)
		if err != nil {
			return err
		}
		for _, link := range col.ItemLinks {
			sub, err := cl.subscription(link)
			if errors.Is(err, drivers.ErrNoSubscription) {
				continue // deleted since the listing
			}
			if err != nil {
				return err
			}
			out = append(out, sub)
		}
		return nil
	})
	return out, err
}

// Subscription implements drivers.EventSubscriber: one GET of the
// subscription's URI. Read-only.
func (d *Driver) Subscription(ctx context.Context, n drivers.Node, id string) (drivers.EventSubscription, error) {
	var out drivers.EventSubscription
	err := d.run(ctx, n, drivers.ManagementInterface, "read an event subscription", func(cl *call) (err error) {
		out, err = cl.subscription(id)
		return err
	})
	return out, err
}

// subscription reads an EventDestination; a 404 is ErrNoSubscription.
func (cl *call) subscription(uri string) (drivers.EventSubscription, error) {
	var sub struct {
		Destination, Context string
		Status               *struct{ State string }
	}
	if err := cl.getJSON(uri, &sub); err != nil {
		var re *ResponseError
		if errors.As(err, &re) && re.Status == http.StatusNotFound {
			return drivers.EventSubscription{}, fmt.Errorf("%w: %w: %s", drivers.ErrBMCRejected, drivers.ErrNoSubscription, uri)
		}
		return drivers.EventSubscription{}, err
	}
	return drivers.EventSubscription{ID: trimSlash(uri), Destination: sub.Destination, Context: sub.Context,
		Enabled: sub.Status == nil || sub.Status.State == "" || sub.Status.State == "Enabled"}, nil
}

// Subscribe implements drivers.EventSubscriber: POST an EventDestination
// with Protocol Redfish, the Context, and the headers as HttpHeaders.
func (d *Driver) Subscribe(ctx context.Context, n drivers.Node, req drivers.SubscriptionRequest) (drivers.EventSubscription, error) {
	var out drivers.EventSubscription
	err := d.run(ctx, n, drivers.ManagementInterface, "subscribe to events", func(cl *call) error {
		coll, err := cl.subscriptionsPath()
		if err != nil {
			return err
		}
		sysPath, err := cl.systemPath()
		if err != nil {
			return err
		}
		body := map[string]any{"Destination": req.Destination, "Context": req.Context, "Protocol": "Redfish"}
		if len(req.Headers) > 0 {
			body["HttpHeaders"] = []map[string]string{req.Headers}
		}
		body["OriginResources"] = []map[string]string{{"@odata.id": sysPath}}
		resp, err := cl.exchangeJSON(http.MethodPost, coll, body)
		var re *ResponseError
		if errors.As(err, &re) && re.Status == http.StatusBadRequest {
			delete(body, "OriginResources")
			resp, err = cl.exchangeJSON(http.MethodPost, coll, body)
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		loc := resp.Header.Get("Location")
		if u, perr := url.Parse(loc); perr == nil && u.Path != "" {
			loc = u.Path // DSP0266 allows an absolute URI
		}
		if loc == "" {
			var created struct {
				ID string `json:"@odata.id"`
			}
			if jerr := json.NewDecoder(resp.Body).Decode(&created); jerr == nil {
				loc = created.ID
			}
		}
		if loc == "" {
			return fmt.Errorf("%w: the BMC created a subscription without saying where (no Location)", drivers.ErrBMCFailed)
		}
		out = drivers.EventSubscription{ID: trimSlash(loc), Destination: req.Destination, Context: req.Context, Enabled: true}
		return nil
	})
	return out, err
}

// Unsubscribe implements drivers.EventSubscriber: DELETE the subscription;
// one that is already gone (404) counts as deleted.
func (d *Driver) Unsubscribe(ctx context.Context, n drivers.Node, id string) error {
	return d.run(ctx, n, drivers.ManagementInterface, "delete an event subscription", func(cl *call) error {
		resp, err := cl.exchange(request{method: http.MethodDelete, path: id})
		var re *ResponseError
		if errors.As(err, &re) && re.Status == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

var _ drivers.EventSubscriber = (*Driver)(nil)
