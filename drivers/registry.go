package drivers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Registry holds the drivers an agent offers, by name. The program's main
// builds one and registers each driver explicitly; there is no global
// registry and no init-time registration.
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Driver
}

// NewRegistry returns a registry holding ds.
func NewRegistry(ds ...Driver) (*Registry, error) {
	r := &Registry{drivers: make(map[string]Driver)}
	for _, d := range ds {
		if err := r.Register(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds d under d.Name(). A second driver of the same name is an error.
func (r *Registry) Register(d Driver) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := d.Name()
	if name == "" {
		return errors.New("driver registry: driver with an empty name")
	}
	if _, dup := r.drivers[name]; dup {
		return fmt.Errorf("driver registry: %q registered twice", name)
	}
	r.drivers[name] = d
	return nil
}

// Driver returns the driver registered as name, or an error wrapping
// ErrUnknownDriver that lists the known ones.
func (r *Registry) Driver(name string) (Driver, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if d, ok := r.drivers[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownDriver, name, r.namesLocked())
}

// Names lists the registered drivers, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close closes every driver that holds resources (see Closer) and returns
// their errors joined.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var errs []error
	for _, n := range r.namesLocked() {
		if c, ok := r.drivers[n].(Closer); ok {
			if err := c.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("close driver %q: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}
