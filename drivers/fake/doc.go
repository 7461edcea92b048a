// Package fake is an in-memory driver for tests and demos. It implements every
// capability of package drivers with realistic per-node state (power, boot
// device and mode, virtual media), counts the calls that reach it, and can be
// told to fail or to be slow, either from code (Driver.Inject) or from a
// node's driver_info (fake_delay, fake_error), so that a separate agent
// process can be made slow or broken too.
package fake
