package redfish

import (
	"context"
	"time"
)

// SetSleep replaces the wait between retries, so that tests can watch the
// waits the driver asks for (Retry-After) and change a fault between tries.
func SetSleep(d *Driver, f func(ctx context.Context, wait time.Duration) error) { d.sleep = f }
