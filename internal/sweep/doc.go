// Package sweep is the shape every periodic loop over the nodes an agent
// owns shares (the power sync, the telemetry collector): one piece of work
// per node, a bounded number at once, the starts optionally spread over a
// span of time instead of in a burst.
package sweep
