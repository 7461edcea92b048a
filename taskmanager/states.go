package taskmanager

import (
	"errors"
	"fmt"
	"slices"
)

// Provision states, with Ironic's names.
const (
	StateEnroll        = "enroll"
	StateVerifying     = "verifying"
	StateManageable    = "manageable"
	StateInspecting    = "inspecting"
	StateInspectWait   = "inspect wait"
	StateInspectFailed = "inspect failed"
	StateAvailable     = "available"
	StateDeploying     = "deploying"
	StateDeployWait    = "wait call-back"
	StateDeployFailed  = "deploy failed"
	StateActive        = "active"
	StateDeleting      = "deleting"
	StateError         = "error"
	StateCleaning      = "cleaning"
	StateCleanWait     = "clean wait"
	StateCleanFailed   = "clean failed"
)

// Events of the provision state machine. The first ones are what a client
// asks for (Ironic's API targets map onto them); done, fail, wait and resume
// are what the agent's own work reports.
const (
	EventManage  = "manage"
	EventProvide = "provide"
	EventInspect = "inspect"
	EventDeploy  = "deploy"
	EventDelete  = "deleted"
	EventRebuild = "rebuild"
	EventClean   = "clean"
	EventAbort   = "abort"
	EventDone    = "done"
	EventFail    = "fail"
	EventWait    = "wait"
	EventResume  = "resume"
)

// ErrInvalidState: the event is not allowed in the node's provision state.
var ErrInvalidState = errors.New("invalid state")

// InvalidStateError names the node, its state and the refused event.
type InvalidStateError struct {
	Node, State, Event string
}

func (e *InvalidStateError) Error() string {
	return fmt.Sprintf("the requested action %q can not be performed on node %s while it is in state %q", e.Event, e.Node, e.State)
}

// Is makes errors.Is(err, ErrInvalidState) true.
func (e *InvalidStateError) Is(target error) bool { return target == ErrInvalidState }

type transition struct{ from, event string }

// machine is the provision state machine: its transitions and, for each
// transient state, the stable state it works towards (target_provision_state).
// It is immutable.
type machine struct {
	next   map[transition]string
	target map[string]string
}

// provision is the state machine, Ironic's subset that the agent serves.
var provision = machine{
	next: map[transition]string{
		{StateEnroll, EventManage}:      StateVerifying,
		{StateVerifying, EventDone}:     StateManageable,
		{StateVerifying, EventFail}:     StateEnroll,
		{StateManageable, EventProvide}: StateCleaning,
		{StateManageable, EventClean}:   StateCleaning,
		{StateManageable, EventInspect}: StateInspecting,

		{StateInspecting, EventDone}:       StateManageable,
		{StateInspecting, EventFail}:       StateInspectFailed,
		{StateInspecting, EventWait}:       StateInspectWait,
		{StateInspectWait, EventDone}:      StateManageable,
		{StateInspectWait, EventFail}:      StateInspectFailed,
		{StateInspectWait, EventAbort}:     StateInspectFailed,
		{StateInspectFailed, EventInspect}: StateInspecting,
		{StateInspectFailed, EventManage}:  StateManageable,

		{StateCleaning, EventDone}:      StateAvailable,
		{StateCleaning, EventManage}:    StateManageable,
		{StateCleaning, EventFail}:      StateCleanFailed,
		{StateCleaning, EventWait}:      StateCleanWait,
		{StateCleanWait, EventResume}:   StateCleaning,
		{StateCleanWait, EventFail}:     StateCleanFailed,
		{StateCleanWait, EventAbort}:    StateCleanFailed,
		{StateCleanFailed, EventManage}: StateManageable,

		{StateAvailable, EventManage}: StateManageable,
		{StateAvailable, EventDeploy}: StateDeploying,

		{StateDeploying, EventDone}:       StateActive,
		{StateDeploying, EventFail}:       StateDeployFailed,
		{StateDeploying, EventWait}:       StateDeployWait,
		{StateDeployWait, EventResume}:    StateDeploying,
		{StateDeployWait, EventDone}:      StateActive,
		{StateDeployWait, EventFail}:      StateDeployFailed,
		{StateDeployWait, EventAbort}:     StateDeployFailed,
		{StateDeployWait, EventDelete}:    StateDeleting,
		{StateDeployFailed, EventDeploy}:  StateDeploying,
		{StateDeployFailed, EventRebuild}: StateDeploying,
		{StateDeployFailed, EventDelete}:  StateDeleting,

		{StateActive, EventDelete}:  StateDeleting,
		{StateActive, EventRebuild}: StateDeploying,

		{StateDeleting, EventDone}: StateCleaning,
		{StateDeleting, EventFail}: StateError,
		{StateError, EventDelete}:  StateDeleting,
		{StateError, EventRebuild}: StateDeploying,
	},
	target: map[string]string{
		StateVerifying:   StateManageable,
		StateInspecting:  StateManageable,
		StateInspectWait: StateManageable,
		StateCleaning:    StateAvailable,
		StateCleanWait:   StateAvailable,
		StateDeploying:   StateActive,
		StateDeployWait:  StateActive,
		StateDeleting:    StateAvailable,
	},
}

// NextState returns the state event leads to from state, or an
// *InvalidStateError (with an empty node) if the machine does not allow it.
func NextState(state, event string) (string, error) {
	next, ok := provision.next[transition{state, event}]
	if !ok {
		return "", &InvalidStateError{State: state, Event: event}
	}
	return next, nil
}

// IsStable reports whether a provision state is one a node rests in (no
// work of the agent's moves it on by itself).
func IsStable(state string) bool {
	_, transient := provision.target[state]
	return !transient
}

// TargetOf returns the stable state a transient state works towards, "" for
// a stable one.
func TargetOf(state string) string { return provision.target[state] }

// States lists every provision state, sorted.
func States() []string {
	seen := map[string]bool{}
	for t, to := range provision.next {
		seen[t.from], seen[to] = true, true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Events lists the events allowed from state, sorted.
func Events(state string) []string {
	var out []string
	for t := range provision.next {
		if t.from == state {
			out = append(out, t.event)
		}
	}
	slices.Sort(out)
	return out
}
