package accounts

import (
	"context"
	"errors"
	"testing"
)

func TestSuspendCancelsTrackedGenerations(t *testing.T) {
	svc := newFixture(t, ModeKey).svc
	type gen struct {
		openid, userid string
		ctx            context.Context
		untrack        func()
	}
	var gens []*gen
	for _, ou := range [][2]string{{"acme", "alice"}, {"acme", "alice"}, {"acme", "bob"}, {"other", "alice"}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		g := &gen{openid: ou[0], userid: ou[1], ctx: ctx}
		g.untrack = svc.Track(ou[0], ou[1], cancel)
		gens = append(gens, g)
	}
	tests := []struct {
		name           string
		openid, userid string
		want           int
		cancelled      []int
	}{
		{"one user", "acme", "alice", 2, []int{0, 1}},
		{"again finds nothing", "acme", "alice", 0, []int{0, 1}},
		{"unknown account", "ghost", "", 0, []int{0, 1}},
		{"whole account", "acme", "", 1, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, err := svc.Suspend(context.Background(), tt.openid, tt.userid); err != nil || n != tt.want {
				t.Fatalf("Suspend = %d, want %d", n, tt.want)
			}
			for i, g := range gens {
				cancelled := false
				for _, c := range tt.cancelled {
					cancelled = cancelled || c == i
				}
				if cancelled != (g.ctx.Err() != nil) {
					t.Fatalf("generation %d cancelled = %v", i, g.ctx.Err() != nil)
				}
				if cancelled && !errors.Is(context.Cause(g.ctx), ErrSuspended) {
					t.Fatalf("cause = %v", context.Cause(g.ctx))
				}
			}
		})
	}
	gens[3].untrack()
	gens[3].untrack() // twice is fine
	if n, err := svc.Suspend(context.Background(), "other", ""); err != nil || n != 0 {
		t.Fatalf("untracked generation suspended: %d", n)
	}
}
