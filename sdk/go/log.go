package api

// LogLevel is the severity of a message for the host's logger.
type LogLevel uint32

const (
	ErrorLevel LogLevel = 0
	WarnLevel  LogLevel = 1
	InfoLevel  LogLevel = 2
	DebugLevel LogLevel = 3
	TraceLevel LogLevel = 4
)

// LogString hands msg to the host's logger as it is, with nothing to
// format: the cheapest logger for a message built by hand.
func LogString(level LogLevel, msg string) {
	if hostShouldLog(uint32(level)) {
		hostLog(uint32(level), msg)
	}
}

// Log formats args like fmt.Sprint (the types format.go lists) and hands
// the message to the host's logger. Nothing is formatted when the host
// drops that level.
func Log(level LogLevel, args ...any) {
	if hostShouldLog(uint32(level)) {
		hostLog(uint32(level), sprint(args))
	}
}

// Logf is Log with fmt.Sprintf formatting (the verbs and types format.go
// lists).
func Logf(level LogLevel, format string, args ...any) {
	if hostShouldLog(uint32(level)) {
		hostLog(uint32(level), sprintf(format, args))
	}
}

func Error(args ...any)                 { Log(ErrorLevel, args...) }
func Errorf(format string, args ...any) { Logf(ErrorLevel, format, args...) }
func Warn(args ...any)                  { Log(WarnLevel, args...) }
func Warnf(format string, args ...any)  { Logf(WarnLevel, format, args...) }
func Info(args ...any)                  { Log(InfoLevel, args...) }
func Infof(format string, args ...any)  { Logf(InfoLevel, format, args...) }
func Debug(args ...any)                 { Log(DebugLevel, args...) }
func Debugf(format string, args ...any) { Logf(DebugLevel, format, args...) }
func Trace(args ...any)                 { Log(TraceLevel, args...) }
func Tracef(format string, args ...any) { Logf(TraceLevel, format, args...) }
