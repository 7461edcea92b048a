package drivers

import (
	"context"
	"errors"
)

// ErrNoSubscription is what EventSubscriber.Subscription returns for a
// subscription the BMC does not hold (deleted, or lost in a BMC reset).
var ErrNoSubscription = errors.New("no such event subscription")

// EventSubscriber manages a BMC's push-event subscriptions (Redfish
// EventService): list them, add one, delete one. It changes the BMC's
// subscription table, not the node: power, boot and media are untouched.
//
// Its methods are not Mutates in the method table, so a shared task may
// call them. A subscription is the agent's own bookkeeping on the BMC, the
// way a Redfish session is: the exclusive lock guards the node's state
// against two actors, and no other actor works on the agent's
// subscriptions (ownership gives each node's subscription to one agent, and
// the agent never touches one it did not create). Requiring the lock would
// make re-subscribing wait for, or fail with NodeLocked during, a deploy or
// a power action that holds the node for minutes, which is when the events
// matter most.
type EventSubscriber interface {
	// Subscriptions lists every subscription the BMC holds, other
	// clients' included (callers pick their own by Context/Destination).
	// A BMC without an EventService returns an error that
	// Is(ErrUnsupported).
	Subscriptions(ctx context.Context, n Node) ([]EventSubscription, error)
	// Subscription reads one subscription by ID: a single request, where
	// Subscriptions costs one per subscription. One the BMC does not hold
	// returns an error that Is(ErrNoSubscription).
	Subscription(ctx context.Context, n Node, id string) (EventSubscription, error)
	// Subscribe creates a subscription for events about n's system and
	// returns it. Not idempotent: each call creates one.
	Subscribe(ctx context.Context, n Node, req SubscriptionRequest) (EventSubscription, error)
	// Unsubscribe deletes the subscription with the given ID (as
	// Subscriptions returns it). Deleting one that is gone succeeds.
	Unsubscribe(ctx context.Context, n Node, id string) error
}

// EventSubscription is a subscription as the BMC shows it. The headers it
// was created with are write-only on Redfish and never shown.
type EventSubscription struct {
	// ID identifies it on the BMC (the Redfish resource's URI).
	ID          string `json:"id"`
	Destination string `json:"destination"`
	Context     string `json:"context"`
	// Enabled is false once the BMC suspended it (Status.State not
	// Enabled, e.g. after failed deliveries).
	Enabled bool `json:"enabled"`
}

// SubscriptionRequest is a new subscription.
type SubscriptionRequest struct {
	// Destination is the URL the BMC posts events to.
	Destination string
	// Context is echoed in every event (Redfish Context).
	Context string
	// Headers are sent with every event (Redfish HttpHeaders): where a
	// secret the receiver checks goes. Never logged.
	Headers map[string]string
}

// The EventSubscriber methods in the method table: management, as Ironic
// has no event interface; not Mutates (see EventSubscriber).
var (
	MethodSubscriptions = Method{ManagementInterface, "Subscriptions", false, has[EventSubscriber]}
	MethodSubscription  = Method{ManagementInterface, "Subscription", false, has[EventSubscriber]}
	MethodSubscribe     = Method{ManagementInterface, "Subscribe", false, has[EventSubscriber]}
	MethodUnsubscribe   = Method{ManagementInterface, "Unsubscribe", false, has[EventSubscriber]}
)

// Subscriptions lists the BMC's event subscriptions (EventSubscriber).
func (h *Handle) Subscriptions(ctx context.Context) (s []EventSubscription, err error) {
	err = h.invoke(ctx, MethodSubscriptions, 0, func(ctx context.Context, n Node) (err error) {
		s, err = h.d.(EventSubscriber).Subscriptions(ctx, n)
		return err
	})
	return s, err
}

// Subscription reads one event subscription of the BMC (EventSubscriber).
func (h *Handle) Subscription(ctx context.Context, id string) (s EventSubscription, err error) {
	if id == "" {
		return s, invalid("a subscription id is required")
	}
	err = h.invoke(ctx, MethodSubscription, 0, func(ctx context.Context, n Node) (err error) {
		s, err = h.d.(EventSubscriber).Subscription(ctx, n, id)
		return err
	})
	return s, err
}

// Subscribe creates an event subscription on the BMC (EventSubscriber).
func (h *Handle) Subscribe(ctx context.Context, req SubscriptionRequest) (s EventSubscription, err error) {
	if req.Destination == "" {
		return s, invalid("an event destination is required")
	}
	err = h.invoke(ctx, MethodSubscribe, 0, func(ctx context.Context, n Node) (err error) {
		s, err = h.d.(EventSubscriber).Subscribe(ctx, n, req)
		return err
	})
	return s, err
}

// Unsubscribe deletes an event subscription from the BMC (EventSubscriber).
func (h *Handle) Unsubscribe(ctx context.Context, id string) error {
	if id == "" {
		return invalid("a subscription id is required")
	}
	return h.invoke(ctx, MethodUnsubscribe, 0, func(ctx context.Context, n Node) error {
		return h.d.(EventSubscriber).Unsubscribe(ctx, n, id)
	})
}
