package fake

import (
	"context"
	"slices"
	"strconv"

	"github.com/bmc-agent/bmc-agent/drivers"
)

// Subscriptions implements drivers.EventSubscriber: the node's fake BMC
// keeps a subscription table and sends nothing.
func (d *Driver) Subscriptions(ctx context.Context, n drivers.Node) ([]drivers.EventSubscription, error) {
	m, err := d.enter(ctx, n, "list event subscriptions")
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return slices.Clone(m.subs), nil
}

// Subscription implements drivers.EventSubscriber.
func (d *Driver) Subscription(ctx context.Context, n drivers.Node, id string) (drivers.EventSubscription, error) {
	m, err := d.enter(ctx, n, "read an event subscription")
	if err != nil {
		return drivers.EventSubscription{}, err
	}
	defer d.mu.Unlock()
	for _, s := range m.subs {
		if s.ID == id {
			return s, nil
		}
	}
	return drivers.EventSubscription{}, d.wrap(n, "read an event subscription", drivers.ErrNoSubscription)
}

// Subscribe implements drivers.EventSubscriber.
func (d *Driver) Subscribe(ctx context.Context, n drivers.Node, req drivers.SubscriptionRequest) (drivers.EventSubscription, error) {
	m, err := d.enter(ctx, n, "subscribe to events")
	if err != nil {
		return drivers.EventSubscription{}, err
	}
	defer d.mu.Unlock()
	m.subSeq++
	s := drivers.EventSubscription{ID: "fake:" + n.UUID + "/" + strconv.Itoa(m.subSeq), Destination: req.Destination, Context: req.Context, Enabled: true}
	m.subs = append(m.subs, s)
	return s, nil
}

// Unsubscribe implements drivers.EventSubscriber.
func (d *Driver) Unsubscribe(ctx context.Context, n drivers.Node, id string) error {
	m, err := d.enter(ctx, n, "delete an event subscription")
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	m.subs = slices.DeleteFunc(m.subs, func(s drivers.EventSubscription) bool { return s.ID == id })
	return nil
}

var _ drivers.EventSubscriber = (*Driver)(nil)
