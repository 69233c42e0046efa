package accounts

import (
	"encoding/json"
	"testing"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in      string
		want    Money
		wantErr bool
	}{
		{"12", 12_000_000, false},
		{"0.5", 500_000, false},
		{"-3.25", -3_250_000, false},
		{"+1.000001", 1_000_001, false},
		{".5", 500_000, false},
		{"0.0000001", 0, true},
		{"abc", 0, true},
		{"", 0, true},
		{"1e3", 0, true},
		{"99999999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMoney(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMoneyStringAndJSON(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{0, "0"}, {12_500_000, "12.5"}, {125, "0.000125"}, {-3_000_000, "-3"}, {-1, "-0.000001"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int64(tt.m), got, tt.want)
		}
		b, _ := json.Marshal(tt.m)
		var back Money
		if err := json.Unmarshal(b, &back); err != nil || back != tt.m {
			t.Errorf("JSON round trip of %s: %s → %s (%v)", tt.m, b, back, err)
		}
	}
	// Sums stay exact where floats drift: 0.1 ten times is 1.
	var sum Money
	for range 10 {
		sum += MoneyFromFloat(0.1)
	}
	if sum != MicrosPerUnit {
		t.Fatalf("ten times 0.1 = %s", sum)
	}
}
