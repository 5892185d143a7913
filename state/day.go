package state

import (
	"encoding/binary"
	"time"
)

// Day is an event-time day bucket: the number of days since 1970-01-01 of a
// civil date in the bucketing time zone (UTC unless configured). Buckets of
// hot state are Days; a bucket is dropped as a whole.
type Day int32

// DayOf returns the day bucket of t in loc (nil means UTC).
func DayOf(t time.Time, loc *time.Location) Day {
	if loc == nil || loc == time.UTC {
		s := t.Unix()
		d := s / 86400
		if s%86400 < 0 {
			d--
		}
		return Day(d)
	}
	y, m, d := t.In(loc).Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Start returns the first instant of the day in loc (nil means UTC).
func (d Day) Start(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	u := time.Unix(int64(d)*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}

// End returns the first instant after the day in loc (the next day's Start).
func (d Day) End(loc *time.Location) time.Time { return (d + 1).Start(loc) }

// String renders the day as 2006-01-02.
func (d Day) String() string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }

// appendDay appends the order-preserving 4-byte encoding of d.
func appendDay(dst []byte, d Day) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(d)^(1<<31))
}

func decodeDay(b []byte) Day { return Day(int32(binary.BigEndian.Uint32(b) ^ (1 << 31))) }
