package transform

import (
	"container/list"
	"errors"
	"sync"
)

// maxCompiled is how many programs the process keeps compiled: several times what a
// configuration holds (IBM's DUO webhook has 12 transforms, 9 of them distinct; a DUO Admin
// lifecycle some 30), so that a reload finds them all, while a process that compiles
// many distinct transforms (tests, a long series of reloads that change them) holds at
// most this many.
const maxCompiled = 256

// compiled are the programs compiled most recently, by environment and source, the most
// recent first. A program depends on nothing but its environment and its source, and is
// immutable, so the one compiled before serves again: start-up checks every provider and
// then builds it, and every reload compiles every transform of the new configuration,
// most of them unchanged. Compiling IBM's DUO webhook takes 7 ms of CPU warm, ten times
// that under the race detector, where cmd/emfa's tests compiled the DUO and DUO Admin
// transforms for every engine they built: a third of the CPU of those tests. The
// environment is the key as a pointer: two environments are never taken for one another,
// whatever they declare, and the variables an environment declares cannot change.
var compiled = struct {
	mu    sync.Mutex
	byKey map[compiledKey]*list.Element // of *compiledEntry
	order list.List                     // most recently used first
}{byKey: map[compiledKey]*list.Element{}}

type compiledKey struct {
	env    *Env
	source string
}

type compiledEntry struct {
	key compiledKey
	prg *Program
}

// Compile parses and type-checks source in env. It rejects a transform whose result cannot be a
// map, and one whose worst-case cost estimate exceeds the environment's ceiling, if it has one. Errors carry the
// CEL position (line:column) of the problem.
//
// A source compiled before in the same env gives the same Program (it is immutable and
// safe for concurrent use), for as long as it is among the most recently compiled or used;
// an error is not kept.
func Compile(env *Env, source string) (*Program, error) {
	if env == nil {
		return nil, errors.New("transform: compile: nil environment")
	}
	key := compiledKey{env, source}
	compiled.mu.Lock()
	if el, ok := compiled.byKey[key]; ok {
		compiled.order.MoveToFront(el)
		prg := el.Value.(*compiledEntry).prg
		compiled.mu.Unlock()
		return prg, nil
	}
	compiled.mu.Unlock()
	// Compiled outside the lock, which transforms compiled in parallel (remote) would
	// otherwise wait on; two compiling the same source at once keep the first one stored.
	prg, err := compile(env, source)
	if err != nil {
		return nil, err
	}
	compiled.mu.Lock()
	defer compiled.mu.Unlock()
	if el, ok := compiled.byKey[key]; ok {
		compiled.order.MoveToFront(el)
		return el.Value.(*compiledEntry).prg, nil
	}
	compiled.byKey[key] = compiled.order.PushFront(&compiledEntry{key: key, prg: prg})
	for compiled.order.Len() > maxCompiled {
		oldest := compiled.order.Back()
		compiled.order.Remove(oldest)
		delete(compiled.byKey, oldest.Value.(*compiledEntry).key)
	}
	return prg, nil
}

// ForgetCompiled empties the cache of compiled programs, so that the next Compile of each
// source compiles it: for a benchmark of the first compile, as a process starting does.
func ForgetCompiled() {
	compiled.mu.Lock()
	defer compiled.mu.Unlock()
	clear(compiled.byKey)
	compiled.order.Init()
}
