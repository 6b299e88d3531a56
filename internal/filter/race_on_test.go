//go:build race

package filter

// raceEnabled: sync.Pool (behind regexp) drops items at random under
// the race detector, so allocation counts of regexp matches are not exact.
const raceEnabled = true
