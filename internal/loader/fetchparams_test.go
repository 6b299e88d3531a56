package loader

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
)

func TestParseFetchInterval(t *testing.T) {
	names := []string{"ds1", "ds2", "ds3"}
	tests := []struct {
		in      string
		want    map[string]time.Duration
		wantErr string
	}{
		{"", map[string]time.Duration{}, ""},
		{"  ", map[string]time.Duration{}, ""},
		{"1000ms", map[string]time.Duration{"ds1": time.Second, "ds2": time.Second, "ds3": time.Second}, ""},
		{"0", map[string]time.Duration{"ds1": 0, "ds2": 0, "ds3": 0}, ""},
		{"ds1:2s,ds2:500ms", map[string]time.Duration{"ds1": 2 * time.Second, "ds2": 500 * time.Millisecond}, ""},
		{" ds1 : 2s , ds3:1m ", map[string]time.Duration{"ds1": 2 * time.Second, "ds3": time.Minute}, ""},
		{"3s,ds2:100ms", map[string]time.Duration{"ds1": 3 * time.Second, "ds2": 100 * time.Millisecond, "ds3": 3 * time.Second}, ""},
		{"ds2:100ms,3s", map[string]time.Duration{"ds1": 3 * time.Second, "ds2": 100 * time.Millisecond, "ds3": 3 * time.Second}, ""},
		{"ds1:0", map[string]time.Duration{"ds1": 0}, ""},
		{"1000", nil, `"1000"`},
		{"-1s", nil, "negative"},
		{"ds1:-1s", nil, "datasource ds1"},
		{"ds1:abc", nil, "datasource ds1"},
		{"nosuch:1s", nil, `unknown datasource "nosuch"`},
		{"ds1:1s,ds1:2s", nil, "given twice"},
		{"1s,2s", nil, "more than one value"},
		{"ds1:1s,", nil, "empty entry"},
		{":1s", nil, `unknown datasource ""`},
	}
	for _, tt := range tests {
		got, err := ParseFetchInterval(tt.in, names)
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, ErrInvalidFetchParam) || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.Contains(err.Error(), "map-fetch-interval") {
				t.Errorf("ParseFetchInterval(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseFetchInterval(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFetchCount(t *testing.T) {
	names := []string{"a", "b"}
	tests := []struct {
		in      string
		want    map[string]int
		wantErr string
	}{
		{"", map[string]int{}, ""},
		{"0", map[string]int{"a": 0, "b": 0}, ""},
		{"5", map[string]int{"a": 5, "b": 5}, ""},
		{"a:1,b:10", map[string]int{"a": 1, "b": 10}, ""},
		{"0,a:1", map[string]int{"a": 1, "b": 0}, ""},
		{"b:3", map[string]int{"b": 3}, ""},
		{"-1", nil, "negative"},
		{"1.5", nil, "not an integer"},
		{"a:x", nil, "datasource a"},
		{"c:1", nil, `unknown datasource "c" (have a, b)`},
		{"a:1,a:1", nil, "given twice"},
		{",", nil, "empty entry"},
	}
	for _, tt := range tests {
		got, err := ParseFetchCount(tt.in, names)
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, ErrInvalidFetchParam) || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.Contains(err.Error(), "map-fetch-count") {
				t.Errorf("ParseFetchCount(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseFetchCount(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestScheduleFor(t *testing.T) {
	iter := &IterFetcher{ds: datasource.New("snap", datasource.TypeArray)}
	top := &MapIterFetcher{ds: datasource.New("top", datasource.TypeArray)}
	names := []string{"snap", "top"}
	tests := []struct {
		interval, count string
		snap, top       FetchSchedule
	}{
		{"", "", FetchSchedule{0, 1}, FetchSchedule{time.Second, 0}},
		{"1000ms", "", FetchSchedule{time.Second, 0}, FetchSchedule{time.Second, 0}},
		{"top:2s", "top:3", FetchSchedule{0, 1}, FetchSchedule{2 * time.Second, 3}},
		{"snap:5s", "", FetchSchedule{5 * time.Second, 0}, FetchSchedule{time.Second, 0}},
		{"snap:5s", "snap:2", FetchSchedule{5 * time.Second, 2}, FetchSchedule{time.Second, 0}},
		{"0", "", FetchSchedule{0, 1}, FetchSchedule{0, 1}},
		{"", "4", FetchSchedule{0, 1}, FetchSchedule{time.Second, 4}},
	}
	for _, tt := range tests {
		intervals, err := ParseFetchInterval(tt.interval, names)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := ParseFetchCount(tt.count, names)
		if err != nil {
			t.Fatal(err)
		}
		if got := ScheduleFor(iter, intervals, counts); got != tt.snap {
			t.Errorf("interval %q count %q: iterator schedule %+v, want %+v", tt.interval, tt.count, got, tt.snap)
		}
		if got := ScheduleFor(top, intervals, counts); got != tt.top {
			t.Errorf("interval %q count %q: map iterator schedule %+v, want %+v", tt.interval, tt.count, got, tt.top)
		}
	}
}
