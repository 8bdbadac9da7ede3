package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

//go:embed wrk.lua
var wrkScript string

// wrkResult is what wrk.lua prints after a run.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Errors     struct {
		Connect, Read, Write, Status, Timeout int64
	} `json:"errors"`
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Mean float64 `json:"mean_us"`
	Max  float64 `json:"max_us"`
}

func (r wrkResult) rps() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

func (r wrkResult) errors() int64 {
	e := r.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

// loadSpec is one wrk run: keep-alive HTTP/1.1 GETs of one URL with fixed
// headers, from `connections` connections, for `duration`.
type loadSpec struct {
	url         string
	headers     []string // "Name: value"
	threads     int
	connections int
	duration    time.Duration
}

// runWrk runs wrk and parses its report. The run is bounded by its duration
// plus a margin, whatever happens.
func runWrk(ctx context.Context, wrk, script string, s loadSpec) (wrkResult, error) {
	secs := int(s.duration.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	args := []string{
		"-t", strconv.Itoa(s.threads), "-c", strconv.Itoa(s.connections),
		"-d", strconv.Itoa(secs) + "s", "--timeout", "5s", "-s", script,
	}
	for _, h := range s.headers {
		args = append(args, "-H", h)
	}
	args = append(args, s.url)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return parseWrk(string(out))
}

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "WRKJSON "); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("wrk report %q: %w", rest, err)
			}
			if r.Requests == 0 {
				return r, fmt.Errorf("wrk made no requests:\n%s", out)
			}
			return r, nil
		}
	}
	return r, fmt.Errorf("no report in wrk's output:\n%s", out)
}
