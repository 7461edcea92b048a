package taskmanager

import "context"

type requestIDKey struct{}

// WithRequestID returns a context carrying the id of the request that
// started the work; tasks acquired with it log the id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
