package wasmhost

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// interruptMode is how calls into a module's guests end when their
// context ends.
type interruptMode int

const (
	// interruptPreempt: the module was rewritten by package preempt; an
	// interrupter sets its flag when the call's context ends.
	interruptPreempt interruptMode = iota
	// interruptWazero: wazero's termination checks
	// (WithCloseOnContextDone), for modules the rewriter refused.
	interruptWazero
	// interruptNone: trusted modules (Config.DisableInterrupt).
	interruptNone
)

// callCtx is the context handed to wazero for a call made under ctx.
// Only wazero's own termination checks need ctx itself; otherwise
// wazero merely looks values up in it on every call, so a flat context
// saves walking the caller's chain.
func (i *Instance) callCtx(ctx context.Context) context.Context {
	if i.mod.mode == interruptWazero {
		return ctx
	}
	return context.Background()
}

// interrupter sets an instrumented guest's interrupt flag when the context
// of the running call ends. It follows one context at a time: arming it
// with a context that ends when the one it follows does (the same Done
// channel: Stage calls all use the same context) costs a comparison, and
// any other one context.AfterFunc registration.
type interrupter struct {
	flag api.MutableGlobal

	ctx  context.Context // followed context; only touched by arm's callers, which are serialised
	stop func() bool

	mu     sync.Mutex
	gen    uint64
	reason error // set when the flag was set
}

// arm makes the flag follow ctx. Calls into the guest are serialised, so
// arm is never called concurrently with itself.
func (it *interrupter) arm(ctx context.Context) {
	// Done channels, not the contexts: interface == panics on a context
	// value of a type that is not comparable, or holds one.
	if it.ctx != nil && ctx.Done() == it.ctx.Done() {
		return
	}
	if it.stop != nil {
		it.stop()
	}
	it.mu.Lock()
	it.gen++
	gen := it.gen
	it.reason = nil
	it.flag.Set(0)
	it.mu.Unlock()
	it.ctx = ctx
	it.stop = context.AfterFunc(ctx, func() {
		it.mu.Lock()
		defer it.mu.Unlock()
		if it.gen == gen {
			it.reason = context.Cause(ctx)
			it.flag.Set(1)
		}
	})
}

// interrupted returns why the flag was set for the followed context (the
// context's error), or nil if it was not.
func (it *interrupter) interrupted() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.reason
}

// disarm stops following any context.
func (it *interrupter) disarm() {
	if it.stop != nil {
		it.stop()
	}
	it.mu.Lock()
	it.gen++
	it.mu.Unlock()
	it.ctx, it.stop = nil, nil
}
