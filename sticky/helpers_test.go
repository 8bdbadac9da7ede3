package sticky

import (
	"time"
)

// fixedNow pins the clock so Max-Age/META arithmetic is exact.
var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const guid = "2f7d6c1a-0b3e-4c5d-8e9f-0a1b2c3d4e5f"

// fixedClock is a Clock that always says t.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// countingClock says t and counts how often it was asked.
type countingClock struct {
	t     time.Time
	reads int
}

func (c *countingClock) Now() time.Time { c.reads++; return c.t }
