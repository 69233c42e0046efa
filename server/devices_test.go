package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/ggufd/ggufd/engine"
)

func TestHealthListsDevices(t *testing.T) {
	gpu := engine.Device{ID: "GPU-1", Name: "CUDA0", Description: "NVIDIA H200", Kind: "gpu", TotalBytes: 141 << 30, FreeBytes: 140 << 30}
	cpu := engine.Device{ID: "CPU", Name: "CPU", Kind: "cpu", TotalBytes: 64 << 30, FreeBytes: 60 << 30}
	cases := []struct {
		name   string
		info   *DeviceInfo // nil: no WithDevices
		reason string
	}{
		{"GPU serves", &DeviceInfo{Devices: []engine.Device{gpu, cpu}}, ""},
		{"CPU only, with why", &DeviceInfo{Devices: []engine.Device{cpu}, CPUOnlyReason: "no GPU backend library in /x"}, "no GPU backend library in /x"},
		{"no device source", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []Option
			if c.info != nil {
				info := *c.info
				opts = append(opts, WithDevices(func() DeviceInfo { return info }))
			}
			_, url := newTestServer(t, newFakeCatalog(), opts...)
			resp, err := http.Get(url + "/health")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Status        string          `json:"status"`
				Devices       []engine.Device `json:"devices"`
				CPUOnlyReason string          `json:"cpu_only_reason"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.Status != "ok" {
				t.Fatalf("/health: %d %+v %v", resp.StatusCode, body, err)
			}
			var want []engine.Device
			if c.info != nil {
				want = c.info.Devices
			}
			if !reflect.DeepEqual(body.Devices, want) {
				t.Errorf("devices = %+v, want %+v", body.Devices, want)
			}
			if body.CPUOnlyReason != c.reason {
				t.Errorf("cpu_only_reason = %q, want %q", body.CPUOnlyReason, c.reason)
			}
		})
	}
}
