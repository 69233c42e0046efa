package server

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestParsePrompts(t *testing.T) {
	tests := []struct {
		raw     string
		want    []prompt
		wantErr bool
	}{
		{`"hi"`, []prompt{{text: "hi"}}, false},
		{`["a","b"]`, []prompt{{text: "a"}, {text: "b"}}, false},
		{`[1,2,3]`, []prompt{{tokens: []int{1, 2, 3}}}, false},
		{`[[1],[2,3]]`, []prompt{{tokens: []int{1}}, {tokens: []int{2, 3}}}, false},
		{`[]`, nil, true},
		{`[[]]`, nil, true},
		{`null`, nil, true},
		{`{"a":1}`, nil, true},
		{`[1,"a"]`, nil, true},
	}
	for _, tc := range tests {
		got, err := parsePrompts(json.RawMessage(tc.raw), "prompt")
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v", tc.raw, got, err)
		}
	}
}

func TestParseStop(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`"x"`, []string{"x"}, false},
		{`""`, []string{}, false},
		{`["a","","b"]`, []string{"a", "b"}, false},
		{`5`, nil, true},
		{`["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]`, nil, true},
	}
	for _, tc := range tests {
		got, err := parseStop(json.RawMessage(tc.raw))
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %#v, %v", tc.raw, got, err)
		}
	}
}

func TestParseLogitBias(t *testing.T) {
	got, err := parseLogitBias(map[string]float64{"5": -100, "7": 2.5})
	if err != nil || !math.IsInf(float64(got[5]), -1) || got[7] != 2.5 {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []map[string]float64{{"x": 1}, {"-1": 1}, {"3": 101}} {
		if _, err := parseLogitBias(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
