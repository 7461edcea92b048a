// Package faultinject is a test helper: a wrapper around the store and lock
// backend the task manager uses (sqlstore.DB is both) that fails, loses the
// answer of, or blocks chosen calls, so that a test can put one failure or
// pause at the exact point of a task's lifecycle where a bug hides, on the
// real database.
//
// A Rule sees each call (its method, node and how many calls of that method
// came before) and may return an Action: fail the call before it reaches the
// database, make the call and lose its answer (the statement committed, the
// caller sees an error), wait at a Gate until the test opens it, or pause.
// Rules are tried in the order they were added; the first that matches
// decides. Calls of methods the wrapper does not list pass straight through.
//
//	fi := faultinject.Wrap(db)
//	g := faultinject.NewGate()
//	fi.On(faultinject.Nth("Release", 2, faultinject.Action{Gate: g}))
//	... <-g.Reached(); do something while the release waits; g.Open()
package faultinject
