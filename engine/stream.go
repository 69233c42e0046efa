package engine

import "sync"

// Stream delivers the events of one Generate call. The scheduler appends to
// it without ever blocking (a slow reader must not stall the other
// sequences of the batch); the reader blocks in Next.
type Stream struct {
	mu     sync.Mutex
	events []Event
	head   int
	done   bool // the Done event has been queued
	read   bool // the Done event has been returned
	// idle: the reader is parked in Next with nothing to read, i.e. it has
	// finished with every event it took.
	idle   bool
	notify chan struct{}
}

func newStream() *Stream { return &Stream{notify: make(chan struct{}, 1)} }

func (s *Stream) push(ev Event) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	if ev.Done {
		s.done = true
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Next blocks until the next event. It returns false after the event with
// Done set has been returned. Callers must read until then: cancelling the
// request's context makes the stream end promptly, with usage.
func (s *Stream) Next() (Event, bool) {
	for {
		s.mu.Lock()
		if s.head < len(s.events) {
			ev := s.events[s.head]
			s.events[s.head] = Event{}
			s.head++
			if s.head == len(s.events) {
				s.events, s.head = s.events[:0], 0
			}
			if ev.Done {
				s.read = true
			}
			s.mu.Unlock()
			return ev, true
		}
		if s.read {
			s.mu.Unlock()
			return Event{}, false
		}
		s.idle = true
		s.mu.Unlock()
		<-s.notify
		s.mu.Lock()
		s.idle = false
		s.mu.Unlock()
	}
}

// caughtUp reports whether the reader has taken and finished with every
// event pushed so far.
func (s *Stream) caughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read || s.idle && s.head == len(s.events)
}
