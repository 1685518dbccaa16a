package consent

import (
	"strconv"
	"strings"
	"time"
)

// localTime is a moment as the merchant pages show it. The server does not
// know the browser's time zone, so the page carries the moment itself (a
// <time datetime>, for static/localtime.js to show in the browser's zone
// and language) and, for a browser without scripts, the moment in UTC
// written out in the page language.
type localTime struct {
	// UTC is the moment in RFC 3339, UTC: the datetime attribute.
	UTC string
	// Text is the fallback: "1 de diciembre de 2026, 21:42 UTC",
	// "December 1, 2026, 21:42 UTC".
	Text string
}

// IsZero reports a moment that never happened (a connection never used).
func (t localTime) IsZero() bool { return t.UTC == "" }

// localTime writes t for the page: the month names and the order of day,
// month and year come from the catalogue (keys months and date_time), so
// that a language added there gets its dates too.
func (l localizer) localTime(t time.Time) localTime {
	if t.IsZero() {
		return localTime{}
	}
	t = t.UTC()
	month := t.Month().String()
	if names := strings.Fields(l.T("months")); len(names) == 12 {
		month = names[t.Month()-1]
	}
	return localTime{
		UTC: t.Format(time.RFC3339),
		Text: l.T("date_time", "Day", strconv.Itoa(t.Day()), "Month", month, "Year", strconv.Itoa(t.Year()),
			"Time", t.Format("15:04")),
	}
}
